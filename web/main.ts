/**
 * The web workbench: create a pet, apply to adopt a healthy one, watch any
 * workflow's streams live, its trace and the service's stream analytics.
 * It talks to the server only through the typed client (WebSocket for
 * subscriptions, HTTP for the rest).
 */
import './zod-config.js';

import { createPetClient } from '../client/create-client.js';
import { mountCreateForm } from './create-form.js';
import { byId } from './dom.js';
import { mountApiKeyForm } from './api-key-form.js';
import { KnownWorkflows, type KnownWorkflow } from './known-workflows.js';
import { renderStats } from './stats-panel.js';
import { renderWorkflowList } from './workflow-list.js';
import { WorkflowView } from './workflow-view.js';

/** How often the workflow list and the analytics refresh. */
const REFRESH_MS = 2000;

const STATE_LABELS: Readonly<Record<string, string>> = { open: 'live', closed: 'ended' };

const apiKey = mountApiKeyForm(sessionStore());
const client = createPetClient({ url: window.location.origin, ...(apiKey ? { apiKey } : {}) });
const known = new KnownWorkflows(localStore());

const connection = byId('connection-state');
const view = new WorkflowView(client, {
  onStateChange: (state) => {
    connection.textContent = STATE_LABELS[state] ?? state;
    connection.dataset['state'] = state;
  },
  onFinished: () => void refresh(),
  onAdoption: (submitted) => {
    const workflow: KnownWorkflow = {
      kind: 'adoption',
      traceId: submitted.traceId,
      token: submitted.streamToken,
      petId: submitted.application.petId,
      name: submitted.application.petName,
      applicationId: submitted.application.id,
    };
    known.add(workflow);
    select(workflow);
  },
  onTreatment: ({ pet, traceId, streamToken }) => {
    const workflow: KnownWorkflow = {
      kind: 'treatment',
      traceId,
      token: streamToken,
      petId: pet.id,
      name: pet.name,
    };
    known.add(workflow);
    select(workflow);
  },
});

const singleColumn = window.matchMedia('(max-width: 52rem)');

const select = (workflow: KnownWorkflow) => {
  view.show(workflow);
  // On a narrow screen the workflow is below the form and the lists: bring it into view.
  if (singleColumn.matches) byId('detail').scrollIntoView({ block: 'start' });
  void refresh();
};

mountCreateForm(client, (created) => {
  const workflow: KnownWorkflow = {
    kind: 'petCreation',
    traceId: created.traceId,
    token: created.streamToken,
    petId: created.pet.id,
    name: created.pet.name,
  };
  known.add(workflow);
  select(workflow);
});

let refreshing: Promise<void> | null = null;

/** Reloads the list and the analytics; one refresh at a time. */
function refresh(): Promise<void> {
  refreshing ??= (async () => {
    try {
      const [traces, pets, stats] = await Promise.all([
        client.trpc.traces.list.query({ limit: 20 }),
        client.pets.list.query({ limit: 100 }),
        client.trpc.system.stats.query(),
      ]);
      renderWorkflowList({
        traces: traces.items,
        pets: pets.items,
        known,
        selected: view.selected,
        onSelect: select,
      });
      renderStats(stats);
    } catch {
      // The server is unreachable for now: the next refresh tries again.
    } finally {
      refreshing = null;
    }
  })();
  return refreshing;
}

function localStore(): Storage | null {
  try {
    return window.localStorage;
  } catch {
    return null;
  }
}

function sessionStore(): Storage | null {
  try {
    return window.sessionStorage;
  } catch {
    return null;
  }
}

void refresh();
setInterval(() => {
  if (!document.hidden) void refresh();
}, REFRESH_MS);
