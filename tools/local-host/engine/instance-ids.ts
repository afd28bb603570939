/**
 * The instance id length limit. The Durable Task Scheduler limits instance ids to 100 characters (its docs), the MSSQL
 * backend too (InstanceID varchar(100)), the extension's DurableClient to 256; sources in NOTES.md. Refused: a client
 * start fails (the front answers 400, as for the extension's own id checks), a sub-orchestration task fails.
 */

/** The Durable Task Scheduler's limit. */
export const DEFAULT_MAX_INSTANCE_ID_LENGTH = 100;

/** Why an instance id is refused, or undefined; `max` 0 (or less) means no limit. */
export function instanceIdProblem(instanceId: string, max: number): string | undefined {
  if (max <= 0 || instanceId.length <= max) return undefined;
  const shown = `${instanceId.slice(0, 40)}...`;
  return `The instance id '${shown}' is ${instanceId.length} characters long, over the limit of ${max} characters (--max-instance-id-length).`;
}
