// A change that other parts of the screen should see (a task saved here, or one that the
// live stream or the chat reported).
type Listener = () => void;
const listeners = new Set<Listener>();

export function tasksChanged() {
  listeners.forEach((l) => l());
}

export function onTasksChanged(listener: Listener): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}
