/**
 * A React page on the client package: a form creates a pet, and
 * `useWorkflow` shows its workflow live. `?transport=sse` watches over SSE
 * instead of the WebSocket.
 */
import { createClient } from '@pet-stream/client';
import { PetClientProvider } from '@pet-stream/client/react';
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';

import { App } from './app.js';

const transport = new URLSearchParams(window.location.search).get('transport') === 'sse' ? 'sse' : 'ws';
const client = createClient({ url: window.location.origin, transport });

const root = document.getElementById('root');
if (!root) throw new Error('The page has no #root element');
createRoot(root).render(
  <StrictMode>
    <PetClientProvider client={client}>
      <App />
    </PetClientProvider>
  </StrictMode>,
);
