package customerfile_test

import (
	"bytes"
	"context"
	"fmt"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"pforte/internal/account"
	"pforte/internal/customerfile"
	"pforte/internal/store/teststore"
)

// importRows is the size of the benchmark's customer base.
const importRows = 100_000

// BenchmarkImport imports 100,000 customers with bcrypt hashes from a
// CSV file into a fresh store of each kind (PostgreSQL only with
// PFORTE_TEST_POSTGRES_DSN) and reports rows/s. One bcrypt hash serves
// every row: making one takes as long as importing hundreds.
//
//	go test -run '^$' -bench Import -benchtime 1x ./internal/customerfile/
func BenchmarkImport(b *testing.B) { benchmarkImport(b, false) }

// BenchmarkImportAgain imports the same file into a store that has it
// already, as a nightly sync of unchanged data would: every row is read
// and left unchanged.
func BenchmarkImportAgain(b *testing.B) { benchmarkImport(b, true) }

func benchmarkImport(b *testing.B, again bool) {
	hash, err := bcrypt.GenerateFromPassword([]byte("imported-Secret-phrase"), 10)
	if err != nil {
		b.Fatal(err)
	}
	var file bytes.Buffer
	file.WriteString("email,first_name,last_name,locale,partner_ref,password_hash\n")
	for i := range importRows {
		fmt.Fprintf(&file, "kunde%06d@example.com,Vorname%d,Nachname%d,de,crm:%d,%s\n", i, i, i, i, hash)
	}
	for _, kind := range []struct {
		name string
		open teststore.Opener
		skip func(testing.TB)
	}{
		{"sqlite", teststore.SQLite, func(testing.TB) {}},
		{"postgres", teststore.Postgres, func(tb testing.TB) { teststore.PostgresServer(tb) }},
	} {
		b.Run(kind.name, func(b *testing.B) {
			kind.skip(b)
			ctx := context.Background()
			run := func(svc *account.Service, c account.Caller) account.ImportSummary {
				src, err := customerfile.NewSource(bytes.NewReader(file.Bytes()), customerfile.CSV)
				if err != nil {
					b.Fatal(err)
				}
				sum, err := svc.Customers.Import(ctx, c, src, account.ImportOptions{})
				if err != nil {
					b.Fatalf("import: %v", err)
				}
				return sum
			}
			for b.Loop() {
				b.StopTimer()
				svc := account.NewService(account.Config{Store: kind.open(b)})
				if err := svc.Attach(ctx, []byte("ein-langes-geheimnis-fuer-den-benchmark")); err != nil {
					b.Fatal(err)
				}
				c, err := svc.Tenants.CommandLineCaller(ctx, account.DefaultTenant)
				if err != nil {
					b.Fatal(err)
				}
				if again {
					if sum := run(svc, c); sum.Created != importRows {
						b.Fatalf("first import: %+v", sum)
					}
				}
				b.StartTimer()
				sum := run(svc, c)
				if !again && sum.Created != importRows || again && sum.Unchanged != importRows {
					b.Fatalf("import: %+v", sum)
				}
			}
			b.ReportMetric(float64(importRows*b.N)/b.Elapsed().Seconds(), "rows/s")
		})
	}
}
