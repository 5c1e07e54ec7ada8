// Writes table rows to a CSV file as they are produced: rows are buffered in small batches,
// stringified by csv-stringify and written with backpressure, so memory stays bounded.
import { stringify } from 'csv-stringify/sync';
import { once } from 'node:events';
import { createWriteStream, type WriteStream } from 'node:fs';

const BATCH_ROWS = 4096;

export class CsvWriter<T extends object> {
  private batch: T[] = [];
  private readonly out: WriteStream;
  private failure: Error | undefined;

  constructor(
    readonly path: string,
    private readonly columns: readonly (keyof T & string)[],
  ) {
    this.out = createWriteStream(path);
    this.out.on('error', (error) => (this.failure = error));
    this.out.write(stringify([[...columns]]));
  }

  /** Buffers a row; call flush() when `full`. */
  write(row: T): void {
    this.batch.push(row);
  }

  get full(): boolean {
    return this.batch.length >= BATCH_ROWS;
  }

  async flush(): Promise<void> {
    if (this.failure) throw this.failure;
    if (this.batch.length === 0) return;
    // Rows as arrays in column order: with objects, csv-stringify resolves every column as a path.
    const text = stringify(this.batch.map((row) => this.columns.map((column) => row[column])));
    this.batch = [];
    if (!this.out.write(text)) await once(this.out, 'drain');
  }

  async close(): Promise<void> {
    await this.flush();
    this.out.end();
    await once(this.out, 'finish');
    if (this.failure) throw this.failure;
  }
}
