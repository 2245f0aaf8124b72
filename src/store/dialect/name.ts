/** The store's two dialects: the embedded SQLite file and PostgreSQL. */
export type DialectName = 'sqlite' | 'postgres';
