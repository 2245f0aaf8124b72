/**
 * The dashboard's shared pieces. Pages import from here only:
 *
 *   import { Form, TextField, SecretField, ConfirmButton, LiveStatus, EmptyState, Panel, send } from '../components/index.ts';
 *
 * - request.ts: `send(method, path, body)` writes with the token; `FieldsError.fields` holds the API's
 *   field errors (every face); `invalid({ field: msg })` raises one client-side; `sse()` reads a stream.
 * - Form.tsx: `<Form submit onSubmit onDone prefix>` with TextField, NumberField, TextAreaField,
 *   SelectField, CheckboxField, SecretField and the generic `<Field field label>{(a11y) => control}</Field>`:
 *   each shows the API's error for its `field` beside it.
 * - Confirm.tsx: `<ConfirmButton label title confirmName? danger onConfirm onDone>` (modal <dialog>).
 * - Live.tsx: LiveStatus, InstanceCount, SecretValue, Panel, EmptyState, Reserve, useEventStream.
 * - format.ts: durations, cron in words, local times.
 */
export { send, sse, invalid, fieldErrorsOf, FieldsError } from './request.ts';
export { Form, Field, TextField, NumberField, TextAreaField, SelectField, CheckboxField, SecretField } from './Form.tsx';
export { ConfirmButton } from './Confirm.tsx';
export { LiveStatus, InstanceCount, SecretValue, Panel, EmptyState, Reserve, useEventStream } from './Live.tsx';
export { duration, cronInWords, nextCronRuns, localTime } from './format.ts';
