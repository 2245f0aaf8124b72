import { useState } from 'react';
import { Form, send, TextField } from '../../components/index.ts';
import { href, navigate } from '../../router.tsx';

/** Create a project: a name (its id is derived from it) and an optional description. */
export function NewProject() {
  const [name, setName] = useState('');
  const [description, setDescription] = useState('');
  return (
    <section>
      <h1 tabIndex={-1}>New project</h1>
      <Form
        submit="Create project"
        onSubmit={() => send<{ data: { id: string } }>('POST', '/v1/projects', { name, ...(description ? { description } : {}) })}
        onDone={(r) => navigate(href.project((r as { data: { id: string } }).data.id))}
      >
        <TextField field="name" label="Name" value={name} onChange={setName} required hint="3-39 characters: lower-case letters, digits and dashes." />
        <TextField field="description" label="Description (optional)" value={description} onChange={setDescription} />
      </Form>
    </section>
  );
}
