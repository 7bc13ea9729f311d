/** Today's date in UTC, the day relative ranges count from. */
export function today(): string {
  return new Date().toISOString().slice(0, 10);
}
