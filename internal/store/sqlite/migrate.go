package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"pforte/internal/store/migration"
	"time"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

func migrations() ([]migration.Migration, error) { return migration.List(migrationFiles, "migrations") }

// Migrate applies the embedded migrations that schema_migrations does not
// list yet, each in its own transaction together with its record. The
// transactions are BEGIN IMMEDIATE, so when two processes migrate at once
// the second waits for the first's commit and then finds the version
// recorded.
func (s *Store) Migrate(ctx context.Context) error {
	ms, err := migrations()
	if err != nil {
		return fmt.Errorf("sqlite: migrate: %w", err)
	}
	// schema_migrations must exist before the first migration can be
	// recorded in it, so it is not part of any migration.
	if _, err := s.write.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER PRIMARY KEY,
		applied_at INTEGER NOT NULL
	) STRICT`); err != nil {
		return fmt.Errorf("sqlite: migrate: %w", err)
	}
	for _, m := range ms {
		if err := s.apply(ctx, m); err != nil {
			return fmt.Errorf("sqlite: migrate %s: %w", m.Name, err)
		}
	}
	return nil
}

// apply runs m unless it is recorded already.
func (s *Store) apply(ctx context.Context, m migration.Migration) error {
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit

	var one int
	err = tx.QueryRowContext(ctx, `SELECT 1 FROM schema_migrations WHERE version = ?`, m.Version).Scan(&one)
	switch {
	case err == nil:
		return nil // applied before
	case !errors.Is(err, sql.ErrNoRows):
		return err
	}
	if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)`,
		m.Version, micros(time.Now())); err != nil {
		return err
	}
	return tx.Commit()
}
