import type { Store } from '../store/store.ts';
import type { ProjectRecord } from '../store/projects-repo.ts';
import type { Principal, AuthService } from './auth.ts';
import type { Signals } from './ports.ts';
import { idFromName } from '../domain/ids.ts';


export interface ProjectInput {
  name: string;
  description?: string;
  color?: string;
  region?: string;
  networking?: Record<string, unknown>;
}

export class ProjectsService {
  constructor(
    private readonly store: Store,
    private readonly auth: AuthService,
    private readonly signals: Signals,
  ) {}

  async create(caller: Principal, input: ProjectInput): Promise<ProjectRecord> {
    this.auth.authorize(caller, null, 'own');
    const { name, description, ...spec } = input;
    return this.store.projects.create({ id: idFromName(name), name, description, spec });
  }

  async get(caller: Principal, id: string): Promise<ProjectRecord> {
    this.auth.authorize(caller, id, 'read');
    return this.store.projects.get(id);
  }

  async list(caller: Principal, page: { after?: string; limit: number }): Promise<ProjectRecord[]> {
    return this.store.projects.list({ ...page, ids: this.auth.visibleProjects(caller) });
  }

  /** Merge the given fields into the project (PATCH semantics); the id never changes. */
  async patch(caller: Principal, id: string, input: Partial<ProjectInput>): Promise<ProjectRecord> {
    this.auth.authorize(caller, id, 'write');
    const cur = await this.store.projects.get(id);
    const { name, description, ...spec } = input;
    return this.store.projects.update(id, cur.version, {
      name: name ?? cur.name,
      description: description ?? cur.description,
      spec: { ...cur.spec, ...spec },
    });
  }

  /**
   * Create or update (Northflank's PUT on the collection): an existing project with the derived id is
   * updated in place, a new one is created.
   */
  async put(caller: Principal, input: ProjectInput): Promise<ProjectRecord> {
    const id = idFromName(input.name);
    const cur = await this.store.projects.find(id);
    if (!cur) return this.create(caller, input);
    this.auth.authorize(caller, id, 'write');
    const { name, description, ...spec } = input;
    return this.store.projects.update(id, cur.version, { name, description, spec });
  }

  /** Delete a project with everything in it; the controllers stop the instances of its services. */
  async delete(caller: Principal, id: string): Promise<void> {
    this.auth.authorize(caller, id, 'own');
    await this.store.projects.get(id);
    const services = await this.store.services.list(id, { limit: 10_000 });
    for (const s of services) {
      await this.store.services.delete(id, s.id);
      this.signals.serviceChanged(`${id}/${s.id}`);
    }
    await this.store.projects.delete(id);
  }
}
