import { useState } from 'react';

import { CreatePetForm, type CreatedPet } from './create-pet-form.js';
import { PetWorkflow } from './pet-workflow.js';

export function App() {
  const [created, setCreated] = useState<CreatedPet | null>(null);
  return (
    <main>
      <h1>🐾 New pet</h1>
      <CreatePetForm onCreated={setCreated} />
      {created && (
        // A new pet is a new workflow: a fresh component, a fresh watch.
        <PetWorkflow key={created.traceId} {...created} />
      )}
    </main>
  );
}
