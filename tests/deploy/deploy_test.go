// Package deploy tests what running latchkey as a service ships: the
// Dockerfile, docker-compose.yml, the systemd unit and the release script. No
// container engine runs here, so the image is never built; what the image
// would run is: the binary built the way the Dockerfile builds it, as the
// Dockerfile's user, with its environment and its volume path, answering its
// HEALTHCHECK. docs/deployment.md says so.
package deploy_test

import (
	"bufio"
	"crypto/rand"
	"crypto/sha256"
	"debug/elf"
	"debug/macho"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/latchkeyhq/latchkey/internal/config"
)

var root = filepath.Join("..", "..")

// instruction is one line of a Dockerfile (continuations joined).
type instruction struct {
	stage int
	cmd   string // upper case
	args  string
}

func readDockerfile(t *testing.T) []instruction {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	var out []instruction
	stage := -1
	var cur string
	for _, line := range strings.Split(string(b), "\n") {
		trimmed := strings.TrimSpace(line)
		if cur == "" && (trimmed == "" || strings.HasPrefix(trimmed, "#")) {
			continue
		}
		if strings.HasSuffix(trimmed, `\`) {
			cur += strings.TrimSuffix(trimmed, `\`) + " "
			continue
		}
		cur += trimmed
		cmd, args, _ := strings.Cut(cur, " ")
		cmd = strings.ToUpper(cmd)
		if cmd == "FROM" {
			stage++
		}
		out = append(out, instruction{stage, cmd, strings.TrimSpace(args)})
		cur = ""
	}
	return out
}

// shellWords splits a command line as sh would (double and single quotes, no expansions).
func shellWords(s string) []string {
	var out []string
	var w strings.Builder
	in, quote := false, rune(0)
	for _, r := range s {
		switch {
		case quote != 0 && r == quote:
			quote = 0
		case quote != 0:
			w.WriteRune(r)
		case r == '"' || r == '\'':
			quote, in = r, true
		case r == ' ' || r == '\t':
			if in {
				out = append(out, w.String())
				w.Reset()
				in = false
			}
		default:
			w.WriteRune(r)
			in = true
		}
	}
	if in {
		out = append(out, w.String())
	}
	return out
}

func settingByEnv() map[string]config.Setting {
	m := map[string]config.Setting{}
	for _, s := range config.Settings {
		m[s.Env] = s
	}
	return m
}

// knownSetting reports whether name is a setting, or the _FILE variant of a secret one.
func knownSetting(name string) bool {
	m := settingByEnv()
	if _, ok := m[name]; ok {
		return true
	}
	base, ok := strings.CutSuffix(name, "_FILE")
	return ok && m[base].Secret
}

// image is what the Dockerfile says about the image it makes.
type image struct {
	buildArgs   []string          // the go build command of the build stage, ${VERSION} and ${COMMIT} substituted
	env         map[string]string // ENV of the final stage
	user        string
	uid, gid    int
	volume      string
	dataOwner   string // the --chown of the COPY that makes the volume path
	binary      string // where the final stage puts latchkey
	entrypoint  []string
	cmd         []string
	healthcheck []string
	base        string
}

func parseImage(t *testing.T, version, commit string) image {
	t.Helper()
	ins := readDockerfile(t)
	last := ins[len(ins)-1].stage
	if last < 1 {
		t.Fatalf("the Dockerfile has %d stage(s); want a build stage and a final one", last+1)
	}
	im := image{env: map[string]string{}}
	jsonArray := func(s string) []string {
		var v []string
		if err := json.Unmarshal([]byte(s), &v); err != nil {
			t.Fatalf("%q is not in exec form (a JSON array): %v", s, err)
		}
		return v
	}
	built := ""
	for _, in := range ins {
		switch {
		case in.cmd == "RUN" && strings.Contains(in.args, "go build"):
			if in.stage == last {
				t.Error("latchkey is built in the final stage")
			}
			s := strings.NewReplacer("${VERSION}", version, "${COMMIT}", commit).Replace(in.args)
			im.buildArgs = shellWords(s)
			if o := slices.Index(im.buildArgs, "-o"); o >= 0 {
				built = im.buildArgs[o+1]
			}
		case in.stage != last:
		case in.cmd == "FROM":
			im.base = in.args
		case in.cmd == "ENV":
			for _, kv := range shellWords(in.args) {
				k, v, _ := strings.Cut(kv, "=")
				im.env[k] = v
			}
		case in.cmd == "USER":
			im.user = in.args
			u, g, _ := strings.Cut(in.args, ":")
			var err1, err2 error
			im.uid, err1 = strconv.Atoi(u)
			im.gid, err2 = strconv.Atoi(g)
			if err1 != nil || err2 != nil {
				t.Errorf("USER %s: want numeric uid:gid (an empty base has no user database to look names up in)", in.args)
			}
		case in.cmd == "VOLUME":
			im.volume = in.args
		case in.cmd == "COPY":
			w := strings.Fields(in.args)
			src, dst := w[len(w)-2], w[len(w)-1]
			if src == built {
				im.binary = dst
			}
			for _, f := range w {
				if o, ok := strings.CutPrefix(f, "--chown="); ok && dst == im.env["LATCHKEY_DATA_DIR"] || ok && dst == "/var/lib/latchkey" {
					im.dataOwner = o
				}
			}
		case in.cmd == "ENTRYPOINT":
			im.entrypoint = jsonArray(in.args)
		case in.cmd == "CMD":
			im.cmd = jsonArray(in.args)
		case in.cmd == "HEALTHCHECK":
			_, c, ok := strings.Cut(in.args, "CMD ")
			if !ok {
				t.Fatalf("HEALTHCHECK %s has no CMD", in.args)
			}
			im.healthcheck = jsonArray(c)
		}
	}
	if built == "" || len(im.buildArgs) == 0 {
		t.Fatal("the Dockerfile has no go build")
	}
	return im
}

// buildLikeTheImage builds latchkey with the Dockerfile's go build command,
// into dir.
func buildLikeTheImage(t *testing.T, im image, dir string) string {
	t.Helper()
	args := slices.Clone(im.buildArgs)
	var env []string
	for len(args) > 0 && strings.Contains(args[0], "=") {
		env = append(env, args[0])
		args = args[1:]
	}
	if len(args) < 2 || args[0] != "go" || args[1] != "build" {
		t.Fatalf("the build command is not go build: %q", im.buildArgs)
	}
	if !slices.Contains(env, "CGO_ENABLED=0") {
		t.Errorf("the image's binary is built without CGO_ENABLED=0: %q", im.buildArgs)
	}
	out := filepath.Join(dir, "latchkey")
	args[slices.Index(args, "-o")+1] = out
	cmd := exec.Command("go", args[1:]...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), env...)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build as the Dockerfile does: %v\n%s", err, b)
	}
	return out
}

func assertStaticELF(t *testing.T, path string) {
	t.Helper()
	f, err := elf.Open(path)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
			t.Errorf("%s is dynamically linked (program header %v)", filepath.Base(path), p.Type)
		}
	}
	if libs, _ := f.ImportedLibraries(); len(libs) > 0 {
		t.Errorf("%s needs %v", filepath.Base(path), libs)
	}
}

// running is a latchkey process started by a test.
type running struct {
	cmd  *exec.Cmd
	addr string
	logs *strings.Builder
	done chan error
}

// start runs bin with args and env (and nothing else), as uid:gid when we
// are root, and waits for its "latchkey ready" log line.
func start(t *testing.T, bin string, args, env []string, uid, gid int) *running {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = env
	if os.Geteuid() == 0 {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}}
	}
	stderr, _ := cmd.StderrPipe()
	cmd.Stdout = io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	r := &running{cmd: cmd, logs: &strings.Builder{}, done: make(chan error, 1)}
	sc := bufio.NewScanner(stderr)
	for r.addr == "" && sc.Scan() {
		r.logs.WriteString(sc.Text() + "\n")
		var line struct{ Msg, Addr string }
		if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "latchkey ready" {
			r.addr = line.Addr
		}
	}
	go func() {
		io.Copy(io.Discard, stderr)
		r.done <- cmd.Wait()
	}()
	if r.addr == "" {
		t.Fatalf("latchkey exited before it was ready: %v\n%s", <-r.done, r.logs)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
		}
	})
	return r
}

// stop sends SIGTERM, as docker stop and systemctl stop do, and wants a clean exit.
func (r *running) stop(t *testing.T) {
	t.Helper()
	r.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-r.done:
		if err != nil {
			t.Errorf("exit after SIGTERM: %v\n%s", err, r.logs)
		}
	case <-time.After(30 * time.Second):
		t.Error("latchkey did not stop within 30 s of SIGTERM")
	}
}

// uidOf is the real uid of a running process.
func uidOf(t *testing.T, pid int) int {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	m := regexp.MustCompile(`(?m)^Uid:\s+(\d+)`).FindSubmatch(b)
	n, _ := strconv.Atoi(string(m[1]))
	return n
}

// ownerOf is a file's uid.
func ownerOf(t *testing.T, path string) int {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return int(st.Sys().(*syscall.Stat_t).Uid)
}

// unprivilegedDirs makes a directory tree the given uid can use: a 0755 one
// for the binary, and a data dir of its own with mode 0700, as the image has.
func unprivilegedDirs(t *testing.T, uid, gid int) (binDir, dataDir string) {
	t.Helper()
	base := t.TempDir()
	os.Chmod(filepath.Dir(base), 0o711) // the test's own temporary directory: passable, not readable
	os.Chmod(base, 0o755)
	binDir = filepath.Join(base, "bin")
	dataDir = filepath.Join(base, "var", "lib", "latchkey")
	os.MkdirAll(binDir, 0o755)
	os.MkdirAll(dataDir, 0o700)
	os.Chmod(filepath.Join(base, "var"), 0o755)
	os.Chmod(filepath.Join(base, "var", "lib"), 0o755)
	if os.Geteuid() == 0 {
		if err := os.Chown(dataDir, uid, gid); err != nil {
			t.Fatal(err)
		}
	}
	return binDir, dataDir
}

func environ(m map[string]string) []string {
	out := []string{"PATH=/usr/bin:/bin"}
	for k, v := range m {
		out = append(out, k+"="+v)
	}
	return out
}

// The image's binary is static, runs as the image's unprivileged user with
// its data in the volume path, and answers the image's HEALTHCHECK.
func TestDockerImage(t *testing.T) {
	const commit = "0123456789abcdef0123456789abcdef01234567"
	im := parseImage(t, "9.9.9-image", commit)
	if !strings.Contains(im.base, "distroless/static") && im.base != "scratch" {
		t.Errorf("the final stage is FROM %s; want an empty or static base (no shell, no libc)", im.base)
	}
	if im.uid == 0 || im.gid == 0 {
		t.Errorf("USER %s is root", im.user)
	}
	if im.volume == "" || im.volume != im.env["LATCHKEY_DATA_DIR"] {
		t.Errorf("VOLUME %q is not LATCHKEY_DATA_DIR %q", im.volume, im.env["LATCHKEY_DATA_DIR"])
	}
	if im.dataOwner != im.user {
		t.Errorf("the data dir is owned by %q, the process runs as %q", im.dataOwner, im.user)
	}
	if len(im.entrypoint) != 1 || im.entrypoint[0] != im.binary || !slices.Equal(im.cmd, []string{"serve"}) {
		t.Errorf("ENTRYPOINT %q CMD %q; want the binary %s and serve", im.entrypoint, im.cmd, im.binary)
	}
	if len(im.healthcheck) < 2 || im.healthcheck[0] != im.binary {
		t.Errorf("HEALTHCHECK %q does not run the binary %s", im.healthcheck, im.binary)
	}
	for k := range im.env {
		if strings.HasPrefix(k, "LATCHKEY_") && !knownSetting(k) {
			t.Errorf("ENV %s is not a setting", k)
		}
	}
	if host, _, _ := strings.Cut(im.env["LATCHKEY_ADDR"], ":"); host != "0.0.0.0" {
		t.Errorf("LATCHKEY_ADDR %q: a container must listen on every interface", im.env["LATCHKEY_ADDR"])
	}

	binDir, dataDir := unprivilegedDirs(t, im.uid, im.gid)
	bin := buildLikeTheImage(t, im, binDir)
	assertStaticELF(t, bin)
	if out, err := exec.Command(bin, "version").Output(); err != nil || !strings.Contains(string(out), "latchkey 9.9.9-image (commit "+commit) {
		t.Errorf("version: %q %v", out, err)
	}
	if os.Geteuid() != 0 {
		t.Log("not root: the binary runs as this user, not the image's")
	}

	// The image's environment, on loopback instead of every interface (tests
	// listen on loopback only) and with the volume at a temporary path.
	env := map[string]string{}
	for k, v := range im.env {
		env[k] = v
	}
	env["LATCHKEY_ADDR"] = "127.0.0.1:0"
	env["LATCHKEY_DATA_DIR"] = dataDir
	r := start(t, bin, im.cmd, environ(env), im.uid, im.gid)
	if os.Geteuid() == 0 {
		if u := uidOf(t, r.cmd.Process.Pid); u != im.uid {
			t.Errorf("latchkey runs as uid %d, want %d", u, im.uid)
		}
	}
	for _, f := range []string{"latchkey.db", "encryption.key"} {
		p := filepath.Join(dataDir, f)
		if os.Geteuid() == 0 && ownerOf(t, p) != im.uid {
			t.Errorf("%s is owned by uid %d", f, ownerOf(t, p))
		}
	}
	// The HEALTHCHECK's command, run as the container runs it (same user, same environment).
	env["LATCHKEY_ADDR"] = r.addr
	hc := exec.Command(bin, im.healthcheck[1:]...)
	hc.Env = environ(env)
	if os.Geteuid() == 0 {
		hc.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(im.uid), Gid: uint32(im.gid)}}
	}
	if out, err := hc.CombinedOutput(); err != nil || !strings.Contains(string(out), "/health") {
		t.Errorf("HEALTHCHECK %q: %v %s", im.healthcheck, err, out)
	}
	r.stop(t)
	// Once stopped, the same command says so, which is what marks a container unhealthy.
	hc = exec.Command(bin, im.healthcheck[1:]...)
	hc.Env = environ(env)
	if err := hc.Run(); err == nil {
		t.Error("the HEALTHCHECK passes with latchkey stopped")
	}
	// The data survived in the volume: a second start finds the database and its key.
	env["LATCHKEY_ADDR"] = "127.0.0.1:0"
	r = start(t, bin, im.cmd, environ(env), im.uid, im.gid)
	if strings.Contains(r.logs.String(), "generated an encryption key") {
		t.Error("the second start generated a new key: the data dir did not keep it")
	}
	r.stop(t)
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// docker-compose.yml: two latchkey instances built from the Dockerfile on one
// PostgreSQL, every variable a real setting, every secret file declared, the
// keys shared, and the configuration one latchkey accepts.
func TestComposeFile(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(root, "docker-compose.yml"))
	if err != nil {
		t.Fatal(err)
	}
	type service struct {
		Image       string
		Build       any
		Environment map[string]string
		Secrets     []string
		Ports       []string
		DependsOn   map[string]map[string]string `yaml:"depends_on"`
		Healthcheck map[string]any
	}
	var compose struct {
		Services map[string]service
		Secrets  map[string]struct{ File string }
		Volumes  map[string]any
	}
	if err := yaml.Unmarshal(b, &compose); err != nil {
		t.Fatalf("docker-compose.yml: %v", err)
	}
	var instances []string
	for name, s := range compose.Services {
		if s.Build != nil {
			instances = append(instances, name)
		}
	}
	slices.Sort(instances)
	if len(instances) != 2 {
		t.Fatalf("latchkey instances: %v, want two", instances)
	}
	pg, ok := compose.Services["postgres"]
	if !ok || !strings.HasPrefix(pg.Image, "postgres:") || pg.Healthcheck == nil {
		t.Errorf("no postgres service with a health check: %+v", pg)
	}
	ports := map[string]bool{}
	var shared []string
	for i, name := range instances {
		s := compose.Services[name]
		if s.Build != "." {
			t.Errorf("%s is built from %v, want the Dockerfile in .", name, s.Build)
		}
		if s.DependsOn["postgres"]["condition"] != "service_healthy" {
			t.Errorf("%s does not wait for a healthy postgres: %v", name, s.DependsOn)
		}
		for _, p := range s.Ports {
			if ports[p] {
				t.Errorf("port %s is published twice", p)
			}
			ports[p] = true
		}
		env := map[string]string{}
		var fileSecrets []string
		for k, v := range s.Environment {
			if !knownSetting(k) {
				t.Errorf("%s sets %s, which is not a setting", name, k)
			}
			if strings.HasSuffix(k, "_FILE") {
				secretName, ok := strings.CutPrefix(v, "/run/secrets/")
				if !ok || !slices.Contains(s.Secrets, secretName) {
					t.Errorf("%s: %s=%s is not one of its secrets %v", name, k, v, s.Secrets)
				}
				if _, ok := compose.Secrets[secretName]; !ok {
					t.Errorf("secret %s is not declared", secretName)
				}
				fileSecrets = append(fileSecrets, k+"="+secretName)
			}
			env[k] = v
		}
		slices.Sort(fileSecrets)
		if i == 0 {
			shared = fileSecrets
		} else if !slices.Equal(shared, fileSecrets) {
			t.Errorf("the instances do not share their secrets: %v and %v", shared, fileSecrets)
		}
		for _, need := range []string{"LATCHKEY_DATABASE_URL_FILE", "LATCHKEY_ENCRYPTION_KEY_FILE", "LATCHKEY_SECRET_KEY_FILE"} {
			if env[need] == "" {
				t.Errorf("%s has no %s: instances on one database must share it", name, need)
			}
		}
		// latchkey accepts this configuration, with secret files as the
		// comments in the compose file say to make them.
		dir := t.TempDir()
		values := map[string]string{"database_url": "postgres://latchkey:" + randomHex(12) + "@postgres:5432/latchkey?sslmode=disable",
			"encryption_key": base64.StdEncoding.EncodeToString([]byte(randomHex(16))), "secret_key": randomHex(32), "metrics_token": randomHex(24)}
		getenv := func(k string) string {
			v := env[k]
			if secretName, ok := strings.CutPrefix(v, "/run/secrets/"); ok {
				p := filepath.Join(dir, secretName)
				os.WriteFile(p, []byte(values[secretName]+"\n"), 0o600)
				return p
			}
			if m := regexp.MustCompile(`^\$\{[A-Z_]+:-(.*)\}$`).FindStringSubmatch(v); m != nil {
				return m[1] // the compose default
			}
			return v
		}
		if _, err := config.Load(getenv, nil, io.Discard); err != nil {
			t.Errorf("%s's configuration is refused: %v", name, err)
		}
	}
	for name, s := range compose.Secrets {
		if !strings.HasPrefix(s.File, "./secrets/") {
			t.Errorf("secret %s comes from %q, want a file in ./secrets", name, s.File)
		}
	}
}

// unitFile reads deploy/latchkey.service's [Service] section: key → values.
func unitFile(t *testing.T) map[string][]string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, "deploy", "latchkey.service"))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	section := ""
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if strings.HasPrefix(line, "[") {
			section = line
			continue
		}
		k, v, _ := strings.Cut(line, "=")
		out[section+k] = append(out[section+k], v)
	}
	return out
}

// The systemd unit: hardened, accepted by systemd-analyze, and its ExecStart,
// with its environment and credentials, starts a latchkey that answers with
// the secret key it was given, and stops cleanly on SIGTERM.
func TestSystemdUnit(t *testing.T) {
	u := unitFile(t)
	for k, want := range map[string]string{"NoNewPrivileges": "yes", "ProtectSystem": "strict", "ProtectHome": "yes", "PrivateTmp": "yes",
		"PrivateDevices": "yes", "DynamicUser": "yes", "StateDirectory": "latchkey", "CapabilityBoundingSet": "", "RestrictSUIDSGID": "yes",
		"MemoryDenyWriteExecute": "yes", "LockPersonality": "yes", "ProtectKernelTunables": "yes", "RestrictNamespaces": "yes", "UMask": "0077",
		"KillSignal": "SIGTERM"} {
		if v := u["[Service]"+k]; len(v) != 1 || v[0] != want {
			t.Errorf("%s=%v, want %q", k, v, want)
		}
	}
	execStart := shellWords(u["[Service]ExecStart"][0])
	if len(execStart) != 2 || execStart[1] != "serve" {
		t.Fatalf("ExecStart %q", execStart)
	}
	// The unit's environment, and the credentials it loads.
	env := map[string]string{}
	for _, e := range u["[Service]Environment"] {
		for _, kv := range shellWords(e) {
			k, v, _ := strings.Cut(kv, "=")
			if !knownSetting(k) {
				t.Errorf("Environment=%s is not a setting", k)
			}
			env[k] = v
		}
	}
	if env["LATCHKEY_DATA_DIR"] != "/var/lib/"+u["[Service]StateDirectory"][0] {
		t.Errorf("LATCHKEY_DATA_DIR %s is not the StateDirectory", env["LATCHKEY_DATA_DIR"])
	}
	const uid = 61999 // what DynamicUser hands out is in 61184–65519
	binDir, dataDir := unprivilegedDirs(t, uid, uid)
	credDir := filepath.Join(filepath.Dir(binDir), "credentials")
	os.Mkdir(credDir, 0o755)
	secretKey := randomHex(32)
	for _, c := range u["[Service]LoadCredential"] {
		name, _, _ := strings.Cut(c, ":")
		v := map[string]string{"encryption-key": base64.StdEncoding.EncodeToString([]byte(randomHex(16))), "secret-key": secretKey}[name]
		if v == "" {
			t.Fatalf("LoadCredential %s: the test does not know what to put in it", name)
		}
		p := filepath.Join(credDir, name)
		os.WriteFile(p, []byte(v+"\n"), 0o400)
		if os.Geteuid() == 0 {
			os.Chown(p, uid, uid)
		}
	}
	for k, v := range env {
		env[k] = strings.ReplaceAll(v, "%d", credDir)
	}
	env["LATCHKEY_DATA_DIR"] = dataDir
	env["LATCHKEY_ADDR"] = "127.0.0.1:0" // the unit's 127.0.0.1:3003 may be taken on a shared machine

	cmd := exec.Command("go", "build", "-o", filepath.Join(binDir, "latchkey"), "./cmd/latchkey")
	cmd.Dir = root
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build: %v %s", err, b)
	}
	bin := filepath.Join(binDir, "latchkey")

	if analyze, err := exec.LookPath("systemd-analyze"); err == nil {
		unitDir := t.TempDir()
		b, _ := os.ReadFile(filepath.Join(root, "deploy", "latchkey.service"))
		unit := filepath.Join(unitDir, "latchkey.service")
		os.WriteFile(unit, []byte(strings.ReplaceAll(string(b), execStart[0], bin)), 0o644)
		if out, err := exec.Command(analyze, "verify", unit).CombinedOutput(); err != nil || len(out) > 0 {
			t.Errorf("systemd-analyze verify: %v\n%s", err, out)
		}
		out, err := exec.Command(analyze, "security", "--offline=true", unit).CombinedOutput()
		m := regexp.MustCompile(`Overall exposure level for latchkey.service: ([0-9.]+)`).FindSubmatch(out)
		if err != nil || m == nil {
			t.Errorf("systemd-analyze security: %v\n%s", err, out)
		} else if level, _ := strconv.ParseFloat(string(m[1]), 64); level > 2 {
			t.Errorf("exposure level %.1f, want 2 or less", level)
		} else {
			t.Logf("systemd-analyze security: exposure %.1f", level)
		}
	} else {
		t.Log("systemd-analyze is not installed: the unit is not verified by systemd")
	}

	r := start(t, bin, execStart[1:], environ(env), uid, uid)
	req, _ := http.NewRequest("GET", "http://"+r.addr+"/integrations", nil)
	req.Header.Set("Authorization", "Bearer "+secretKey)
	res, err := http.DefaultClient.Do(req)
	if err != nil || res.StatusCode != 200 {
		t.Errorf("the secret key from the credential: %v %v", res, err)
	} else {
		res.Body.Close()
	}
	if strings.Contains(r.logs.String(), "generated an encryption key") {
		t.Error("the encryption key credential was not used")
	}
	r.stop(t)
}

// scripts/release.sh: four static binaries, each stamped with the version and
// commit, and SHA256SUMS that match them.
func TestReleaseScript(t *testing.T) {
	if testing.Short() {
		t.Skip("builds four binaries")
	}
	out := t.TempDir()
	cmd := exec.Command("bash", "scripts/release.sh", "--out", out, "1.2.3-test")
	cmd.Dir = root
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("release.sh: %v\n%s", err, b)
	}
	sums, err := os.ReadFile(filepath.Join(out, "SHA256SUMS"))
	if err != nil {
		t.Fatal(err)
	}
	listed := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(sums)), "\n") {
		sum, name, ok := strings.Cut(line, "  ")
		if !ok {
			t.Fatalf("SHA256SUMS line %q", line)
		}
		listed[name] = sum
	}
	targets := map[string]string{"linux-amd64": "elf/x86-64", "linux-arm64": "elf/aarch64", "darwin-amd64": "macho/amd64", "darwin-arm64": "macho/arm64"}
	if len(listed) != len(targets) {
		t.Errorf("SHA256SUMS lists %d files: %v", len(listed), listed)
	}
	for target, want := range targets {
		name := "latchkey-1.2.3-test-" + target
		b, err := os.ReadFile(filepath.Join(out, name))
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		sum := sha256.Sum256(b)
		if listed[name] != hex.EncodeToString(sum[:]) {
			t.Errorf("%s: SHA256SUMS says %s, the file is %x", name, listed[name], sum)
		}
		path := filepath.Join(out, name)
		switch want {
		case "elf/x86-64", "elf/aarch64":
			f, err := elf.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			if m := map[string]elf.Machine{"elf/x86-64": elf.EM_X86_64, "elf/aarch64": elf.EM_AARCH64}[want]; f.Machine != m {
				t.Errorf("%s is for %v", name, f.Machine)
			}
			f.Close()
			assertStaticELF(t, path)
		default:
			f, err := macho.Open(path)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if m := map[string]macho.Cpu{"macho/amd64": macho.CpuAmd64, "macho/arm64": macho.CpuArm64}[want]; f.Cpu != m {
				t.Errorf("%s is for %v", name, f.Cpu)
			}
			f.Close()
		}
	}
	// The one this machine runs says its version and the commit of this checkout.
	head, err := exec.Command("git", "-C", root, "rev-parse", "HEAD").Output()
	if err != nil {
		t.Skipf("not a git checkout: %v", err)
	}
	native := filepath.Join(out, "latchkey-1.2.3-test-"+runtime.GOOS+"-"+runtime.GOARCH)
	if _, err := os.Stat(native); err != nil {
		t.Skipf("no binary for %s/%s", runtime.GOOS, runtime.GOARCH)
	}
	v, err := exec.Command(native, "version").Output()
	if err != nil || !strings.HasPrefix(string(v), "latchkey 1.2.3-test (commit "+strings.TrimSpace(string(head))) {
		t.Errorf("version: %q %v", v, err)
	}
	// A version that would make odd file names is refused.
	cmd = exec.Command("bash", "scripts/release.sh", "--out", out, "../x")
	cmd.Dir = root
	if b, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(b), "may hold only") {
		t.Errorf("version ../x: %v %s", err, b)
	}
}
