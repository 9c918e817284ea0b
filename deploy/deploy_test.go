package deploy

import (
	"bufio"
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
)

// built is pforte built by .ci/build, once for every test that needs it.
var built = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "pforte-deploy-")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "pforte")
	out, err := exec.Command("../.ci/build", bin).CombinedOutput()
	if err != nil {
		return "", &buildError{err, string(out)}
	}
	return bin, nil
})

type buildError struct {
	err error
	out string
}

func (e *buildError) Error() string { return ".ci/build: " + e.err.Error() + "\n" + e.out }

func TestMain(m *testing.M) {
	code := m.Run()
	if bin, err := built(); err == nil {
		os.RemoveAll(filepath.Dir(bin))
	}
	os.Exit(code)
}

func binary(t *testing.T) string {
	t.Helper()
	bin, err := built()
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

func read(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// lines are a file's lines with their continuations joined, comments and
// blank lines left out.
func lines(text string) []string {
	var out []string
	var cur strings.Builder
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		l := strings.TrimSpace(sc.Text())
		if cur.Len() == 0 && (l == "" || strings.HasPrefix(l, "#")) {
			continue
		}
		if c, ok := strings.CutSuffix(l, "\\"); ok {
			cur.WriteString(c + " ")
			continue
		}
		cur.WriteString(l)
		out = append(out, cur.String())
		cur.Reset()
	}
	return out
}

var goBuild = regexp.MustCompile(`\bgo\s+build\b`)

// The image is built as CI builds: the Dockerfile and .ci/run both call
// .ci/build, which holds the one go build command; neither builds
// otherwise.
func TestDockerfileBuildsAsCI(t *testing.T) {
	docker, ci, script := lines(read(t, "../Dockerfile")), lines(read(t, "../.ci/run")), lines(read(t, "../.ci/build"))
	var dockerBuilds, ciBuilds, scriptBuilds int
	for _, l := range docker {
		if goBuild.MatchString(l) {
			t.Errorf("the Dockerfile builds by itself: %q; call .ci/build", l)
		}
		if strings.HasPrefix(l, "RUN .ci/build ") {
			dockerBuilds++
		}
	}
	for _, l := range ci {
		if goBuild.MatchString(l) {
			t.Errorf(".ci/run builds by itself: %q; call .ci/build", l)
		}
		if strings.HasPrefix(l, ".ci/build ") {
			ciBuilds++
		}
	}
	for _, l := range script {
		if goBuild.MatchString(l) {
			scriptBuilds++
			if !strings.HasPrefix(l, "CGO_ENABLED=0 ") || !strings.HasSuffix(l, " ./cmd/pforte") {
				t.Errorf(".ci/build: %q is not a static build of ./cmd/pforte", l)
			}
		}
	}
	if dockerBuilds != 1 || ciBuilds != 1 || scriptBuilds != 1 {
		t.Errorf("the Dockerfile calls .ci/build %d times, .ci/run %d times, and .ci/build has %d go build lines; want 1 each",
			dockerBuilds, ciBuilds, scriptBuilds)
	}
}

// The image's Go is go.mod's, and its last stage runs the binary as a
// non-root user, with the database on the volume and a health check
// that needs no shell.
func TestDockerfileImage(t *testing.T) {
	goVersion := regexp.MustCompile(`(?m)^go (\S+)$`).FindStringSubmatch(read(t, "../go.mod"))
	docker := lines(read(t, "../Dockerfile"))
	var stages int
	var final []string
	for _, l := range docker {
		if strings.HasPrefix(l, "FROM ") {
			stages++
			final = nil
			if strings.Contains(l, "golang:") && !strings.Contains(l, "golang:"+goVersion[1]+"-") {
				t.Errorf("%q is not go.mod's Go %s", l, goVersion[1])
			}
		}
		final = append(final, l)
	}
	if stages < 2 {
		t.Errorf("%d stages, want a build stage and a final one", stages)
	}
	text := strings.Join(final, "\n")
	for _, want := range []string{
		"USER 65532:65532",
		"PFORTE_DB=sqlite:/data/pforte.db",
		"PFORTE_ADDR=:8080",
		"VOLUME /data",
		`CMD ["/usr/local/bin/pforte", "healthcheck"]`,
		"COPY --from=build /out/pforte /usr/local/bin/pforte",
		"RUN .ci/build /out/pforte",
	} {
		if !strings.Contains(strings.Join(docker, "\n"), want) {
			t.Errorf("the Dockerfile lacks %q", want)
		}
	}
	if strings.Contains(text, "RUN ") {
		t.Errorf("the final stage runs commands, but its image has no shell:\n%s", text)
	}
}

// .ci/build makes a static binary, which the image's distroless base
// needs: no interpreter, no shared libraries.
func TestBuildIsStatic(t *testing.T) {
	f, err := elf.Open(binary(t))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Error("the binary names a dynamic loader")
		}
	}
	if libs, _ := f.ImportedLibraries(); len(libs) > 0 {
		t.Errorf("the binary needs %v", libs)
	}
	if out, err := exec.Command(binary(t), "help").CombinedOutput(); err != nil || !strings.Contains(string(out), "healthcheck") {
		t.Errorf("pforte help: %v\n%s", err, out)
	}
}

// The unit passes systemd-analyze verify with its ExecStart pointed at a
// binary .ci/build made (verify needs the binary to exist; nothing else
// of the unit changes), and keeps its sandbox.
func TestSystemdUnit(t *testing.T) {
	unit := read(t, "pforte.service")
	for _, want := range []string{
		"DynamicUser=yes", "StateDirectory=pforte", "NoNewPrivileges=yes", "ProtectSystem=strict",
		"ProtectHome=yes", "PrivateTmp=yes", "CapabilityBoundingSet=\n", "SystemCallFilter=@system-service",
		"RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX",
		// The database lies in $STATE_DIRECTORY, which StateDirectory=pforte makes /var/lib/pforte.
		"Environment=PFORTE_DB=sqlite:/var/lib/pforte/pforte.db", "EnvironmentFile=-/etc/pforte/pforte.env",
	} {
		if !strings.Contains(unit, want) {
			t.Errorf("the unit lacks %q", strings.TrimSpace(want))
		}
	}
	const execStart = "ExecStart=/usr/local/bin/pforte serve\n"
	if strings.Count(unit, execStart) != 1 {
		t.Fatalf("the unit has no single %q", strings.TrimSpace(execStart))
	}
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze not found: the unit is not verified on this machine")
	}
	bin := binary(t)
	path := filepath.Join(t.TempDir(), "pforte.service")
	if err := os.WriteFile(path, []byte(strings.Replace(unit, execStart, "ExecStart="+bin+" serve\n", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(analyze, "verify", path).CombinedOutput()
	if err != nil || len(out) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
}
