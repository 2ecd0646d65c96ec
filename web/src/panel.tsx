// A side panel: a modal <dialog> (focus stays inside, Escape closes it) sliding in from the
// right on a desktop, full width on a phone.
import type { ComponentChildren } from "preact";
import { useEffect, useRef } from "preact/hooks";

export function Panel(props: { title: string; onClose: () => void; children: ComponentChildren; wide?: boolean }) {
  const ref = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const dialog = ref.current!;
    const opener = document.activeElement as HTMLElement | null;
    dialog.showModal();
    return () => {
      dialog.close();
      opener?.focus?.();
    };
  }, []);
  const id = `panel-${props.title.replace(/\W+/g, "-").toLowerCase()}`;
  return (
    <dialog
      ref={ref}
      class={`panel${props.wide ? " wide" : ""}`}
      aria-labelledby={id}
      onCancel={(e) => {
        e.preventDefault();
        props.onClose();
      }}
    >
      <div class="panel-head">
        <h2 id={id}>{props.title}</h2>
        <button type="button" class="ghost" aria-label="Close" onClick={props.onClose}>
          ×
        </button>
      </div>
      <div class="panel-body">{props.children}</div>
    </dialog>
  );
}
