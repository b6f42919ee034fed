/**
 * Reconciliation: proof that nothing on the server was silently never filed (run.ts).
 */
export * from './run';
