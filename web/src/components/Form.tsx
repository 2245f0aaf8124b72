/**
 * Forms whose errors come from the API, shown beside the field they name.
 *
 *   <Form submit="Create project" onSubmit={async () => { await send('POST', '/v1/projects', { name }); }}
 *         onDone={() => navigate(...)}>
 *     <TextField field="name" label="Name" value={name} onChange={setName} required hint="3-39 characters" />
 *     <SecretField field="password" label="Password" value={pw} onChange={setPw} />
 *   </Form>
 *
 * - `onSubmit` throws what `send()` throws; the form shows the message at the top (role=alert) and each
 *   field error (`FieldsError.fields`, dotted paths) under the field whose `field` prop equals it or is a
 *   prefix of it (`ports.0` catches `ports.0.name`). Errors no field claims are listed in the summary.
 * - `field` is the API's path for the value; `prefix` on <Form> is prepended to every field of the form
 *   (e.g. `healthChecks.0`) so the same inputs serve different bodies.
 * - Every input has a label, `aria-invalid` and `aria-describedby` pointing at its hint and error.
 * - `throw invalid({ field: 'message' })` (request.ts) reports a client-side rule in the same way.
 */
import { createContext, useContext, useEffect, useId, useRef, useState, type FormEvent, type ReactNode } from 'react';
import { fieldErrorsOf } from './request.ts';
import './components.css';

interface FormState {
  errors: Record<string, string>;
  busy: boolean;
  prefix: string;
  claim: (field: string) => () => void;
}
const FormContext = createContext<FormState>({ errors: {}, busy: false, prefix: '', claim: () => () => {} });

function errorFor(errors: Record<string, string>, field: string): string | undefined {
  const hits = Object.entries(errors).filter(([k]) => k === field || k.startsWith(`${field}.`));
  return hits.length ? hits.map(([k, v]) => (k === field ? v : `${k.slice(field.length + 1)}: ${v}`)).join('; ') : undefined;
}

export function Form({
  submit,
  onSubmit,
  onDone,
  children,
  prefix = '',
  busyLabel,
  className,
  danger,
  label,
  disabled,
}: {
  /** the submit button's text */
  submit: string;
  onSubmit: () => Promise<unknown>;
  /** after a successful submit, with what onSubmit returned */
  onDone?: (result: unknown) => void;
  children: ReactNode;
  prefix?: string;
  busyLabel?: string;
  className?: string;
  danger?: boolean;
  /** the form's accessible name (defaults to the submit text) */
  label?: string;
  disabled?: boolean;
}) {
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [message, setMessage] = useState<string>();
  const [busy, setBusy] = useState(false);
  const claimed = useRef(new Map<string, number>());
  const claim = (field: string) => {
    claimed.current.set(field, (claimed.current.get(field) ?? 0) + 1);
    return () => claimed.current.set(field, (claimed.current.get(field) ?? 1) - 1);
  };
  const formRef = useRef<HTMLFormElement>(null);

  const handle = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setMessage(undefined);
    setErrors({});
    try {
      const result = await onSubmit();
      onDone?.(result);
    } catch (err) {
      const fields = fieldErrorsOf(err);
      setErrors(fields);
      setMessage((err as Error).message);
      // Focus the first field the API named, else the summary.
      requestAnimationFrame(() => formRef.current?.querySelector<HTMLElement>('[aria-invalid="true"], .form-error')?.focus());
    } finally {
      setBusy(false);
    }
  };
  const isClaimed = (k: string) => [...claimed.current].some(([f, n]) => n > 0 && (k === prefixed(prefix, f) || k.startsWith(`${prefixed(prefix, f)}.`)));
  const unclaimed = Object.entries(errors).filter(([k]) => !isClaimed(k));
  const scoped: Record<string, string> = {};
  for (const [k, v] of Object.entries(errors)) scoped[k] = v;

  return (
    <FormContext.Provider value={{ errors: scoped, busy, prefix, claim }}>
      <form ref={formRef} onSubmit={handle} className={`form ${className ?? ''}`} aria-label={label ?? submit} noValidate>
        {message && (
          <div role="alert" className="form-error" tabIndex={-1}>
            <p>{message}</p>
            {unclaimed.length > 0 && (
              <ul>
                {unclaimed.map(([k, v]) => (
                  <li key={k}>
                    <code>{k}</code> {v}
                  </li>
                ))}
              </ul>
            )}
          </div>
        )}
        {children}
        <div className="form-actions">
          <button type="submit" className={danger ? 'danger' : undefined} disabled={busy || disabled}>
            {busy ? (busyLabel ?? `${submit}…`) : submit}
          </button>
        </div>
      </form>
    </FormContext.Provider>
  );
}

function prefixed(prefix: string, field: string): string {
  return prefix ? `${prefix}.${field}` : field;
}

/** Label, hint and error around one control; `render` gets the props the control must carry. */
export function Field({ field, label, hint, children, inline }: { field: string; label: string; hint?: ReactNode; inline?: boolean; children: (a11y: { id: string; 'aria-invalid'?: true; 'aria-describedby'?: string; disabled: boolean }) => ReactNode }) {
  const ctx = useContext(FormContext);
  const id = useId();
  const full = prefixed(ctx.prefix, field);
  useEffect(() => ctx.claim(field), [field]);
  const error = errorFor(ctx.errors, full);
  const describedBy = [hint ? `${id}-hint` : '', error ? `${id}-error` : ''].filter(Boolean).join(' ') || undefined;
  return (
    <div className={`field${inline ? ' inline-field' : ''}${error ? ' has-error' : ''}`}>
      <label htmlFor={id}>{label}</label>
      {children({ id, 'aria-invalid': error ? true : undefined, 'aria-describedby': describedBy, disabled: ctx.busy })}
      {hint && (
        <p id={`${id}-hint`} className="hint">
          {hint}
        </p>
      )}
      {error && (
        <p id={`${id}-error`} className="field-error">
          {error}
        </p>
      )}
    </div>
  );
}

interface TextProps {
  field: string;
  label: string;
  value: string;
  onChange: (v: string) => void;
  hint?: ReactNode;
  required?: boolean;
  placeholder?: string;
  autoComplete?: string;
  type?: 'text' | 'url' | 'email' | 'number';
  inputMode?: 'text' | 'numeric' | 'url';
  min?: number;
  max?: number;
}

export function TextField({ field, label, hint, value, onChange, type = 'text', ...rest }: TextProps) {
  return (
    <Field field={field} label={label} hint={hint}>
      {(a) => <input {...a} type={type} value={value} onChange={(e) => onChange(e.target.value)} spellCheck={false} {...rest} />}
    </Field>
  );
}

export function NumberField(props: Omit<TextProps, 'type'>) {
  return <TextField {...props} type="number" inputMode="numeric" />;
}

export function TextAreaField({ field, label, hint, value, onChange, rows = 5, placeholder }: { field: string; label: string; hint?: ReactNode; value: string; onChange: (v: string) => void; rows?: number; placeholder?: string }) {
  return (
    <Field field={field} label={label} hint={hint}>
      {(a) => <textarea {...a} rows={rows} value={value} placeholder={placeholder} spellCheck={false} onChange={(e) => onChange(e.target.value)} />}
    </Field>
  );
}

export function SelectField<T extends string>({ field, label, hint, value, onChange, options }: { field: string; label: string; hint?: ReactNode; value: T; onChange: (v: T) => void; options: readonly (T | { value: T; label: string })[] }) {
  return (
    <Field field={field} label={label} hint={hint}>
      {(a) => (
        <select {...a} value={value} onChange={(e) => onChange(e.target.value as T)}>
          {options.map((o) => {
            const v = typeof o === 'string' ? o : o.value;
            return (
              <option key={v} value={v}>
                {typeof o === 'string' ? o : o.label}
              </option>
            );
          })}
        </select>
      )}
    </Field>
  );
}

export function CheckboxField({ field, label, hint, checked, onChange }: { field: string; label: string; hint?: ReactNode; checked: boolean; onChange: (v: boolean) => void }) {
  const ctx = useContext(FormContext);
  const id = useId();
  useEffect(() => ctx.claim(field), [field]);
  const error = errorFor(ctx.errors, prefixed(ctx.prefix, field));
  return (
    <div className={`field check-field${error ? ' has-error' : ''}`}>
      <span className="check">
        <input id={id} type="checkbox" checked={checked} disabled={ctx.busy} onChange={(e) => onChange(e.target.checked)} aria-invalid={error ? true : undefined} aria-describedby={[hint ? `${id}-hint` : '', error ? `${id}-error` : ''].filter(Boolean).join(' ') || undefined} />
        <label htmlFor={id}>{label}</label>
      </span>
      {hint && (
        <p id={`${id}-hint`} className="hint">
          {hint}
        </p>
      )}
      {error && (
        <p id={`${id}-error`} className="field-error">
          {error}
        </p>
      )}
    </div>
  );
}

/** A secret input: hidden (type=password) until "Show" is pressed; never autofilled from the browser's store. */
export function SecretField({ field, label, hint, value, onChange, required, autoComplete = 'new-password' }: { field: string; label: string; hint?: ReactNode; value: string; onChange: (v: string) => void; required?: boolean; autoComplete?: string }) {
  const [shown, setShown] = useState(false);
  return (
    <Field field={field} label={label} hint={hint}>
      {(a) => (
        <span className="secret-input">
          <input {...a} type={shown ? 'text' : 'password'} value={value} required={required} autoComplete={autoComplete} spellCheck={false} onChange={(e) => onChange(e.target.value)} />
          <button type="button" className="small secondary" aria-pressed={shown} aria-label={`${shown ? 'Hide' : 'Show'} ${label}`} onClick={() => setShown((s) => !s)}>
            {shown ? 'Hide' : 'Show'}
          </button>
        </span>
      )}
    </Field>
  );
}
