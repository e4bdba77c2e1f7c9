/** Time shapes shared by every layer: instants are epoch milliseconds inside, ISO 8601 UTC outside. */

export const SECOND_MS = 1_000;
export const DAY_MS = 86_400_000;

/** An instant as the API and D1 show it (ISO 8601 UTC, milliseconds). */
export const iso = (ms: number) => new Date(ms).toISOString();
