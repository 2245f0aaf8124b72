/** The create, settings, jobs and admin screens, chosen by route (see routes.ts). */
import './manage.css';
import type { ManageRoute } from './routes.ts';
import { NewProject } from './NewProject.tsx';
import { NewService } from './NewService.tsx';
import { ServiceSettings } from './settings/ServiceSettings.tsx';
import { Jobs } from './jobs/Jobs.tsx';
import { NewJob } from './jobs/NewJob.tsx';
import { JobPage } from './jobs/JobPage.tsx';
import { Tokens } from './Tokens.tsx';
import { Registries } from './Registries.tsx';

export { isManageRoute, manageHref } from './routes.ts';
export { Overview } from './Overview.tsx';

export function ManageScreen({ route }: { route: ManageRoute }) {
  switch (route.name) {
    case 'new-project':
      return <NewProject />;
    case 'new-service':
      return <NewService key={route.project} project={route.project} />;
    case 'service-settings':
      return <ServiceSettings key={`${route.project}/${route.service}`} project={route.project} service={route.service} />;
    case 'jobs':
      return <Jobs project={route.project} />;
    case 'new-job':
      return <NewJob project={route.project} />;
    case 'job':
      return <JobPage key={`${route.project}/${route.job}`} project={route.project} job={route.job} />;
    case 'tokens':
      return <Tokens />;
    case 'registries':
      return <Registries />;
  }
}
