package postgres

import (
	"context"
	"embed"
	"fmt"
	"pforte/internal/store/migration"

	"github.com/jackc/pgx/v5"
)

// migrationFiles holds the schema, one file per version, numbered like the
// SQLite store's. A migration that has shipped is never edited.
//
//go:embed migrations/*.sql
var migrationFiles embed.FS

// migrateLock is the pg_advisory_xact_lock key that serialises migrations of
// replicas starting together ("pforte" in ASCII).
const migrateLock int64 = 0x70666f727465

func migrations() ([]migration.Migration, error) { return migration.List(migrationFiles, "migrations") }

// Migrate applies the embedded migrations that schema_migrations does not
// list, each in its own transaction together with its record. Every
// transaction first takes an advisory lock, so of replicas starting together
// one migrates and the others wait, then find the work done.
func (s *Store) Migrate(ctx context.Context) error {
	ms, err := migrations()
	if err != nil {
		return fmt.Errorf("postgres: migrate: %w", err)
	}
	for _, m := range ms {
		if err := pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.ReadCommitted}, func(tx pgx.Tx) error {
			return applyMigration(ctx, tx, m)
		}); err != nil {
			return fmt.Errorf("postgres: migrate %s: %w", m.Name, err)
		}
	}
	return nil
}

func applyMigration(ctx context.Context, tx pgx.Tx, m migration.Migration) error {
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, migrateLock); err != nil {
		return err
	}
	// Under the lock, so concurrent starts cannot race to create it.
	if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    integer PRIMARY KEY,
		applied_at timestamptz NOT NULL
	)`); err != nil {
		return err
	}
	var applied bool
	if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM schema_migrations WHERE version = $1)`, m.Version).Scan(&applied); err != nil {
		return err
	}
	if applied {
		return nil
	}
	// Without arguments pgx uses the simple protocol, which runs a file
	// of several statements.
	if _, err := tx.Exec(ctx, m.SQL); err != nil {
		return err
	}
	_, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, applied_at) VALUES ($1, now())`, m.Version)
	return err
}
