/**
 * A button that asks before it acts, in a modal <dialog> (focus moves in, Escape cancels, focus returns).
 *
 *   <ConfirmButton label="Delete service" title="Delete web?" confirmName="web" danger
 *                  onConfirm={() => send('DELETE', path)} onDone={() => navigate(href.project(p))}>
 *     Its instances stop and its releases are removed.
 *   </ConfirmButton>
 *
 * With `confirmName` the confirm button stays disabled until that exact name is typed. An error thrown by
 * `onConfirm` is shown inside the dialog, which stays open.
 */
import { useId, useRef, useState, type ReactNode } from 'react';
import './components.css';

export function ConfirmButton({
  label,
  title,
  children,
  confirmName,
  confirmLabel,
  danger,
  onConfirm,
  onDone,
  small,
  disabled,
}: {
  label: string;
  title: string;
  children?: ReactNode;
  confirmName?: string;
  confirmLabel?: string;
  danger?: boolean;
  onConfirm: () => Promise<unknown>;
  onDone?: () => void;
  small?: boolean;
  /** the opening button's disabled state */
  disabled?: boolean;
}) {
  const ref = useRef<HTMLDialogElement>(null);
  const id = useId();
  const [typed, setTyped] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string>();
  const open = () => {
    setTyped('');
    setError(undefined);
    ref.current?.showModal();
  };
  const close = () => ref.current?.close();
  const go = async () => {
    setBusy(true);
    setError(undefined);
    try {
      await onConfirm();
      close();
      onDone?.();
    } catch (err) {
      setError((err as Error).message);
    } finally {
      setBusy(false);
    }
  };
  const ready = confirmName === undefined || typed === confirmName;
  return (
    <>
      <button type="button" className={[danger ? 'danger' : '', small ? 'small' : ''].join(' ').trim() || undefined} disabled={disabled} onClick={open}>
        {label}
      </button>
      <dialog ref={ref} aria-labelledby={`${id}-t`} className="confirm">
        <form
          method="dialog"
          onSubmit={(e) => {
            e.preventDefault();
            if (ready && !busy) void go();
          }}
        >
          <h2 id={`${id}-t`}>{title}</h2>
          {children && <div className="confirm-body">{children}</div>}
          {confirmName !== undefined && (
            <div className="field">
              <label htmlFor={`${id}-n`}>
                Type <strong>{confirmName}</strong> to confirm
              </label>
              <input id={`${id}-n`} value={typed} autoComplete="off" spellCheck={false} onChange={(e) => setTyped(e.target.value)} />
            </div>
          )}
          {error && (
            <p role="alert" className="field-error">
              {error}
            </p>
          )}
          <div className="form-actions">
            <button type="button" className="secondary" onClick={close}>
              Cancel
            </button>
            <button type="submit" className={danger ? 'danger solid' : undefined} disabled={!ready || busy}>
              {busy ? 'Working…' : (confirmLabel ?? label)}
            </button>
          </div>
        </form>
      </dialog>
    </>
  );
}
