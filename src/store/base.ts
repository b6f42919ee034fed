/**
 * What every part of the store shares: the connection, prepared statements compiled once, and
 * transactions. The aggregates (inbound.ts, cases.ts, ...) extend it; src/store/store.ts joins
 * them into one Store.
 */
import type { Statement, Transaction } from 'better-sqlite3';
import type { DB } from './db';

export class StoreBase {
  private readonly statements = new Map<string, Statement>();
  /**
   * One transaction wrapper for every transaction: better-sqlite3 compiles BEGIN/COMMIT/
   * SAVEPOINT statements each time `db.transaction()` is called, which costs more than the
   * writes of a small transaction. Called inside a transaction it runs as a savepoint.
   */
  private readonly runInTransaction: Transaction<(fn: () => unknown) => unknown>;

  constructor(readonly db: DB) {
    this.runInTransaction = db.transaction((fn: () => unknown) => fn());
  }

  /** A prepared statement, compiled once per SQL text (preparing costs more than running). */
  protected q(sql: string): Statement {
    let s = this.statements.get(sql);
    if (!s) {
      s = this.db.prepare(sql);
      this.statements.set(sql, s);
    }
    return s;
  }

  /**
   * Run `fn` in one IMMEDIATE transaction; a call inside another transaction becomes a
   * savepoint, so a throw undoes only the inner part.
   */
  tx<T>(fn: () => T): T {
    return this.runInTransaction.immediate(fn) as T;
  }

  /**
   * Run `fn` in one DEFERRED transaction: reads see one snapshot, and (WAL) a writer is never
   * kept waiting. For long reads that must agree with themselves (the monthly pack's thirteen
   * reports), so that they need not hold the write lock.
   */
  readTx<T>(fn: () => T): T {
    return this.runInTransaction.deferred(fn) as T;
  }

  /**
   * A transaction committed without waiting for fsync (synchronous=NORMAL in WAL mode). A
   * crash of the process loses nothing (the WAL is in the OS before COMMIT returns); only a
   * power loss or kernel crash can roll back the last such commits. Use it only where a
   * rolled-back commit is harmless: the outbox's claims and results, where the worst case is
   * one more send of the same mail with the same Message-ID. Intake and filing never use it.
   */
  txRelaxed<T>(fn: () => T): T {
    if (this.db.inTransaction) return this.tx(fn);
    this.q('PRAGMA synchronous = NORMAL').run();
    try {
      return this.tx(fn);
    } finally {
      this.q('PRAGMA synchronous = FULL').run();
    }
  }
}
