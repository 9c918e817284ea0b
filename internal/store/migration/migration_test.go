package migration

import (
	"testing"
	"testing/fstest"
)

func TestList(t *testing.T) {
	fsys := fstest.MapFS{
		"m/0002_b.sql":   {Data: []byte("B")},
		"m/0001_a.sql":   {Data: []byte("A")},
		"m/0010_c.sql":   {Data: []byte("C")},
		"m/README.md":    {Data: []byte("not sql")},
		"other/0003.sql": {Data: []byte("elsewhere")},
	}
	ms, err := List(fsys, "m")
	if err != nil {
		t.Fatal(err)
	}
	var got string
	for _, m := range ms {
		got += m.Name + "=" + m.SQL + " "
	}
	if want := "0001_a.sql=A 0002_b.sql=B 0010_c.sql=C "; got != want || ms[2].Version != 10 {
		t.Fatalf("List = %q, want %q", got, want)
	}
	for name, bad := range map[string]fstest.MapFS{
		"no version": {"m/init.sql": {}},
		"zero":       {"m/0000_x.sql": {}},
		"duplicate":  {"m/0001_a.sql": {}, "m/1_b.sql": {}},
	} {
		if _, err := List(bad, "m"); err == nil {
			t.Errorf("%s: List succeeded", name)
		}
	}
}
