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
func BenchmarkImport(b *testing.B) { benchmarkImport(b, importNew) }

// BenchmarkImportAgain imports the same file into a store that has it
// already, as a nightly sync of unchanged data would: every row is read
// and left unchanged.
func BenchmarkImportAgain(b *testing.B) { benchmarkImport(b, importAgain) }

// BenchmarkImportExport imports an export of the store (with uuids and
// hashes, as pforte customer export --with-hashes writes it) into the
// same store: every row is matched by uuid and left unchanged.
func BenchmarkImportExport(b *testing.B) { benchmarkImport(b, importExport) }

// What an import benchmark imports.
const (
	importNew    = iota // the file, into a fresh store
	importAgain         // the file, a second time
	importExport        // an export of the store after importing the file
)

func benchmarkImport(b *testing.B, what int) {
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
			run := func(svc *account.Service, c account.Caller, input []byte) account.ImportSummary {
				src, err := customerfile.NewSource(bytes.NewReader(input), customerfile.CSV)
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
				input := file.Bytes()
				if what != importNew {
					if sum := run(svc, c, input); sum.Created != importRows {
						b.Fatalf("first import: %+v", sum)
					}
				}
				if what == importExport {
					input = export(b, svc, c)
				}
				b.StartTimer()
				sum := run(svc, c, input)
				if what == importNew && sum.Created != importRows || what != importNew && sum.Unchanged != importRows {
					b.Fatalf("import: %+v", sum)
				}
			}
			b.ReportMetric(float64(importRows*b.N)/b.Elapsed().Seconds(), "rows/s")
		})
	}
}

// export writes every customer of c's tenant as CSV with their hashes.
func export(b *testing.B, svc *account.Service, c account.Caller) []byte {
	var out bytes.Buffer
	w, err := customerfile.NewWriter(&out, customerfile.CSV, true)
	if err != nil {
		b.Fatal(err)
	}
	for after := int64(0); ; {
		page, err := svc.Customers.List(context.Background(), c, account.CustomerFilter{}, after, account.MaxPageSize)
		if err != nil {
			b.Fatal(err)
		}
		if len(page) == 0 {
			break
		}
		for _, cust := range page {
			if err := w.Write(cust); err != nil {
				b.Fatal(err)
			}
		}
		after = page[len(page)-1].ID
	}
	if err := w.Close(); err != nil {
		b.Fatal(err)
	}
	return out.Bytes()
}
