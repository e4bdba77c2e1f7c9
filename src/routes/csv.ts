import type { Context } from "hono";
import { z } from "@hono/zod-openapi";

/**
 * CSV exports (RFC 4180) of the account's lists, for spreadsheets and finance: a header row, CRLF
 * line ends, fields quoted when they hold a comma, a quote or a line break. The body is streamed
 * page by page from the same keyset queries the JSON lists use, so a large export never builds
 * in memory and reads a consistent order even while rows are added.
 */

export type Cell = string | number | boolean | null | undefined;

/** Rows fetched per query while streaming an export. */
export const CSV_PAGE = 500;

/** `?format=csv` on a list route (the `Accept: text/csv` header does the same). */
export const CsvFormat = z
  .enum(["json", "csv"])
  .optional()
  .openapi({ param: { name: "format", in: "query" }, description: "`csv` streams the whole list as RFC 4180 CSV (or send `Accept: text/csv`); `limit` and `cursor` then do not apply." });

/** The 200 reply of a route that can answer CSV too. */
export const csvContent = { "text/csv": { schema: z.string().openapi({ description: "RFC 4180, with a header row" }) } } as const;

/** True when the caller asked for CSV: `format=csv`, or an Accept header that prefers text/csv to JSON. */
export function wantsCsv(c: Context, format: string | undefined): boolean {
  if (format !== undefined) return format === "csv";
  const accept = c.req.header("accept") ?? "";
  return /(^|,)\s*text\/csv/i.test(accept) && !/(^|,)\s*application\/json/i.test(accept);
}

/**
 * A spreadsheet reads a cell starting with = + - @ (or a tab or CR) as a formula; text from
 * users (names, audit details) is prefixed with ' so an export cannot run one. Numbers are not text.
 */
function field(value: Cell): string {
  if (value === null || value === undefined) return "";
  let text = String(value);
  if (typeof value === "string" && /^[=+\-@\t\r]/.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

export const csvLine = (cells: readonly Cell[]): string => `${cells.map(field).join(",")}\r\n`;

/** The rows of every page, pulled only as the client reads: `next` gets the previous page's cursor. */
export async function* paged<T, K>(fetchPage: (after: K | null) => Promise<{ items: T[]; next: K | null }>): AsyncGenerator<T[]> {
  let after: K | null = null;
  do {
    const page: { items: T[]; next: K | null } = await fetchPage(after);
    yield page.items;
    after = page.next;
  } while (after !== null);
}

/** 0..n-1 in chunks of `size`: the rows of an in-memory column set, encoded a chunk at a time. */
export function* indexChunks(n: number, size = 1000): Generator<number[]> {
  for (let from = 0; from < n; from += size) yield Array.from({ length: Math.min(size, n - from) }, (_, i) => from + i);
}

/** Streams `header` then one line per row, as a download named `filename`. */
export function csvResponse<T>(filename: string, header: readonly string[], pages: AsyncIterable<T[]> | Iterable<T[]>, toCells: (row: T) => Cell[]): Response {
  const encoder = new TextEncoder();
  const source = (Symbol.asyncIterator in pages ? pages[Symbol.asyncIterator]() : (pages as Iterable<T[]>)[Symbol.iterator]()) as
    | AsyncIterator<T[]>
    | Iterator<T[]>;
  let started = false;
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (!started) {
        started = true;
        controller.enqueue(encoder.encode(csvLine(header)));
        return;
      }
      const next = await source.next();
      if (next.done) {
        controller.close();
        return;
      }
      if (next.value.length) controller.enqueue(encoder.encode(next.value.map((row) => csvLine(toCells(row))).join("")));
    },
    async cancel() {
      await source.return?.();
    },
  });
  return new Response(body, {
    status: 200,
    headers: {
      "content-type": "text/csv; charset=utf-8",
      "content-disposition": `attachment; filename="${filename}"`,
      "cache-control": "no-store",
    },
  });
}
