/**
 * The document reader, parent side: one attachment file -> a DocumentReading, read in a child
 * process (reader-child.ts) that is killed at a time and a memory bound. Never throws for the
 * document's faults: a document past a bound, encrypted, broken or of no readable kind comes
 * back `not-read` with its reason, and the mail is filed as usual.
 *
 * Why a child process per document (not a worker thread): a worker's resourceLimits bound only
 * the V8 heap, not the Buffers a PDF or zip decoder allocates, and a native crash or abort in a
 * worker ends the whole service; a process group is killed whole (the OCR tools with it) and
 * returns all its memory. The cost, about 0.2 s per document, is paid only for mail with
 * documents attached.
 *
 * Bounds: time (documents.readerSeconds, or ocrWaitSeconds / ocrSeconds for OCR); resident
 * memory of the reader (documents.readerMemoryMb, sampled every 50 ms from /proc, and the V8
 * heap limited to the same); the OCR tools under `ulimit -v`; page and size limits in the child.
 */
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Config } from '../config/config';
import type { DocumentKind, DocumentReading } from './reading';
import { documentKind, notRead } from './reading';
import type { ReadRequest } from './reader-child';
import { packageRoot } from '../util/package-root';

export interface OcrTools {
  readonly tesseract: string | null;
  readonly pdftoppm: string | null;
  readonly languages: string;
}

/** Why a reading stopped at a bound (the caller may keep an earlier, partial reading instead). */
export type Bound = 'time' | 'memory' | 'crash';

export interface ReadResult {
  readonly reading: DocumentReading;
  readonly bound: Bound | null;
  /** Peak resident memory of the reader process seen, bytes (for the bench). */
  readonly peakRss: number;
}

/** Fixed limits inside the child (the configurable ones are in Config['documents']). */
const FIXED = {
  maxImageBytes: 30 * 1048576,
  /** An A4 page scanned at 600 dpi is 35 megapixels. */
  maxImagePixels: 50_000_000,
  /** A .docx's parts together, as its zip directory says. */
  maxExpandedBytes: 100 * 1048576,
  /** Address space of pdftoppm and tesseract (ulimit -v). */
  toolMemoryMb: 1024,
  maxTextChars: 500_000,
};

function findCommand(name: string): string | null {
  if (name.includes('/')) return fs.existsSync(name) ? name : null;
  for (const dir of (process.env.PATH ?? '/usr/bin:/bin').split(':')) {
    const p = path.join(dir || '.', name);
    try {
      fs.accessSync(p, fs.constants.X_OK);
      return p;
    } catch {
      /* next */
    }
  }
  return null;
}

/** The OCR tools found, and the Tesseract languages of ours it has (Swedish and English). */
export function findOcrTools(config: Config['documents']): OcrTools {
  const tesseract = findCommand(config.tesseract);
  const pdftoppm = findCommand(config.pdftoppm);
  let languages = '';
  if (tesseract) {
    try {
      const out = execFileSync(tesseract, ['--list-langs'], { encoding: 'utf8', timeout: 5000, stdio: ['ignore', 'pipe', 'pipe'] });
      const have = new Set(out.split(/\s+/));
      languages = ['swe', 'eng'].filter((l) => have.has(l)).join('+');
    } catch {
      languages = '';
    }
  }
  return { tesseract: tesseract && languages ? tesseract : null, pdftoppm, languages };
}

/** The compiled child (dist/src/documents/reader-child.js), also when this file runs from src/ under ts-jest. */
function childModule(): string {
  const beside = path.join(__dirname, 'reader-child.js');
  if (fs.existsSync(beside)) return beside;
  return path.join(packageRoot(), 'dist', 'src', 'documents', 'reader-child.js');
}

export interface DocumentFile {
  /** Absolute path. */
  readonly file: string;
  readonly contentType: string | null;
  readonly filename: string | null;
}

export class DocumentReader {
  private ocrTools: OcrTools | null = null;

  constructor(private readonly config: Config['documents']) {}

  tools(): OcrTools {
    this.ocrTools ??= findOcrTools(this.config);
    return this.ocrTools;
  }

  /** The kind of document a file is, null when it is none (not read, nothing recorded). */
  kindOf(doc: DocumentFile): DocumentKind | null {
    let head: Buffer;
    try {
      const fd = fs.openSync(doc.file, 'r');
      try {
        head = Buffer.alloc(1024);
        head = head.subarray(0, fs.readSync(fd, head, 0, 1024, 0));
      } finally {
        fs.closeSync(fd);
      }
    } catch {
      return null;
    }
    return documentKind(head, doc.contentType, doc.filename);
  }

  /**
   * Read a document within the bounds. `ocr`: also read pages without text and images by OCR
   * (else they come back `ocr-pending`); `seconds`: the time bound.
   */
  async read(doc: DocumentFile, kind: DocumentKind, opts: { ocr: boolean; seconds: number; signal?: AbortSignal }): Promise<ReadResult> {
    const started = Date.now();
    const tmpDir = fs.mkdtempSync(path.join(os.tmpdir(), 'klagomal-doc-'));
    const req: ReadRequest = {
      file: doc.file,
      kind,
      ocr: opts.ocr,
      limits: { ...FIXED, maxPages: this.config.maxPages, ocrMaxPages: this.config.ocrMaxPages },
      tools: this.tools(),
      tmpDir,
    };
    try {
      const r = await this.runChild(req, opts.seconds, opts.signal);
      const ms = Date.now() - started;
      if ('reading' in r) return { reading: { ...r.reading, ms }, bound: null, peakRss: r.peakRss };
      const why =
        r.bound === 'time'
          ? `time limit: not read within ${opts.seconds} s`
          : r.bound === 'memory'
            ? `memory limit: the reader passed ${this.config.readerMemoryMb} MB`
            : `the reader stopped (${r.detail})`;
      return { reading: notRead(why, ms), bound: r.bound, peakRss: r.peakRss };
    } finally {
      fs.rmSync(tmpDir, { recursive: true, force: true });
    }
  }

  private runChild(
    req: ReadRequest,
    seconds: number,
    abort?: AbortSignal,
  ): Promise<{ reading: Omit<DocumentReading, 'ms'>; peakRss: number } | { bound: Bound; detail: string; peakRss: number }> {
    const limitBytes = this.config.readerMemoryMb * 1048576;
    return new Promise((resolve) => {
      // Its own process group (detached), so that the bound kills the OCR tools with it; no
      // environment of ours (no proxies, no secrets).
      const child = spawn(process.execPath, [`--max-old-space-size=${this.config.readerMemoryMb}`, childModule()], {
        detached: true,
        stdio: ['pipe', 'pipe', 'ignore'],
        env: { PATH: '/usr/bin:/bin', LANG: 'C.UTF-8', OMP_THREAD_LIMIT: '1' },
      });
      const out: Buffer[] = [];
      let outBytes = 0;
      let peakRss = 0;
      let stopped: Bound | null = null;
      const kill = (why: Bound): void => {
        if (stopped) return;
        stopped = why;
        try {
          process.kill(-child.pid!, 'SIGKILL');
        } catch {
          child.kill('SIGKILL');
        }
      };
      const timer = setTimeout(() => kill('time'), seconds * 1000);
      // A shutdown stops the reading at once (the OCR pass reads it again after the restart).
      const onAbort = (): void => kill('time');
      abort?.addEventListener('abort', onAbort, { once: true });
      const sampler = setInterval(() => {
        const rss = residentBytes(child.pid);
        if (rss > peakRss) peakRss = rss;
        if (rss > limitBytes) kill('memory');
      }, 50);
      child.stdout!.on('data', (c: Buffer) => {
        outBytes += c.length;
        if (outBytes > 8 * FIXED.maxTextChars) kill('memory');
        else out.push(c);
      });
      child.stdin!.on('error', () => undefined);
      child.stdin!.end(JSON.stringify(req));
      child.on('error', () => kill('crash'));
      child.on('close', (code, signal) => {
        clearTimeout(timer);
        clearInterval(sampler);
        abort?.removeEventListener('abort', onAbort);
        if (stopped) return resolve({ bound: stopped, detail: stopped, peakRss });
        try {
          const reading = JSON.parse(Buffer.concat(out).toString('utf8')) as Omit<DocumentReading, 'ms'>;
          resolve({ reading, peakRss });
        } catch {
          // V8 aborts at its heap limit ("JavaScript heap out of memory"): a memory bound too.
          resolve({ bound: signal === 'SIGABRT' || code === 134 ? 'memory' : 'crash', detail: signal ?? `exit ${code}`, peakRss });
        }
      });
    });
  }
}

/** VmRSS of a process, bytes (Linux /proc); 0 when it is gone or /proc cannot tell. */
function residentBytes(pid: number | undefined): number {
  if (!pid) return 0;
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}
