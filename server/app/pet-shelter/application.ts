/**
 * The pet shelter as the engine runs it: the manifest. A new workflow is
 * its own folder beside `pets/` and one line in `workflows`.
 */
import { defineApplication } from '../../engine/index.js';
import { adoptionRoutes } from './adoptions/rest-routes.js';
import { adoptionWorkflow } from './adoptions/workflow.js';
import { appRouter } from './app-router.js';
import { petRoutes } from './pets/rest-routes.js';
import { petCreationWorkflow } from './pets/workflow.js';
import { treatmentWorkflow } from './treatments/workflow.js';
import { closeShelterServices, createShelterServices, fenceShelterServices } from './services.js';

export const shelter = defineApplication({
  name: 'Pet shelter',
  workflows: [petCreationWorkflow, adoptionWorkflow, treatmentWorkflow],
  createServices: createShelterServices,
  fenceServices: fenceShelterServices,
  closeServices: closeShelterServices,
  router: appRouter,
  httpRoutes: (environment) => [...petRoutes(environment), ...adoptionRoutes(environment)],
});
