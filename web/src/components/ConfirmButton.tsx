import { type ReactNode, useEffect, useRef, useState } from 'react';

interface Props {
  /** The button's text. */
  label: ReactNode;
  /** The question the dialog asks. */
  title: string;
  children?: ReactNode;
  confirmLabel?: string;
  danger?: boolean;
  disabled?: boolean;
  className?: string;
  onConfirm: () => unknown;
}

/** A button that asks first, in a modal dialog, before it runs a destructive action. */
export function ConfirmButton({
  label,
  title,
  children,
  confirmLabel = 'Confirm',
  danger,
  disabled,
  className,
  onConfirm,
}: Props) {
  const [open, setOpen] = useState(false);
  const ref = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const d = ref.current;
    if (!d) return;
    if (open && !d.open) d.showModal();
    if (!open && d.open) d.close();
  }, [open]);
  return (
    <>
      <button
        type="button"
        className={className ?? (danger ? 'btn btn-danger' : 'btn')}
        disabled={disabled}
        onClick={() => setOpen(true)}
      >
        {label}
      </button>
      <dialog ref={ref} className="dialog" onClose={() => setOpen(false)} aria-label={title}>
        {open && (
          <form
            method="dialog"
            onSubmit={(e) => {
              e.preventDefault();
              setOpen(false);
              void onConfirm();
            }}
          >
            <h3>{title}</h3>
            {children && <div className="dialog-body">{children}</div>}
            <div className="dialog-actions">
              <button type="button" className="btn" onClick={() => setOpen(false)}>
                Cancel
              </button>
              <button type="submit" className={danger ? 'btn btn-danger' : 'btn btn-primary'}>
                {confirmLabel}
              </button>
            </div>
          </form>
        )}
      </dialog>
    </>
  );
}
