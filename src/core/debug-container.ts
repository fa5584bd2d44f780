// The names of kdebug's ephemeral containers. A job's container name derives from its id, so a
// retried job finds the container it added before instead of adding another.

const PREFIX = 'kdebug-';

export function debugContainerName(jobId: string): string {
  return `${PREFIX}${jobId}`;
}

/** The kdebug containers in a pod's spec: ephemeral containers named by debugContainerName. */
export function debugContainerNames(pod: { spec?: { ephemeralContainers?: ReadonlyArray<{ name: string }> } }): string[] {
  return (pod.spec?.ephemeralContainers ?? []).map((c) => c.name).filter((n) => n.startsWith(PREFIX));
}
