// Command bench measures latchkey's proxy against the floor: a bare
// httputil.ReverseProxy that only adds a Basic header. Both sit in front of the
// same stand-in Atlassian, each in its own process, and are loaded by the same
// Go load generator at several concurrencies. It also streams 200 MB each way
// and reports latchkey's CPU time per request and memory.
//
//	go run ./bench                 # defaults: 5 s per level, concurrency 1, 16, 64
//	go run ./bench -d 10s -c 1,8
package main

import (
	"context"
	"encoding/base64"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/latchkeyhq/latchkey/client"
	"github.com/latchkeyhq/latchkey/internal/app"
	"github.com/latchkeyhq/latchkey/internal/atlassiansim"
	"github.com/latchkeyhq/latchkey/internal/config"
)

const secretKey = "sk_bench_0123456789abcdef0123456789abcdef"

func main() {
	role := flag.String("role", "", "internal: upstream, floor or latchkey")
	addr := flag.String("addr", "", "internal: listen address")
	upstreamURL := flag.String("upstream", "", "internal: upstream URL")
	dur := flag.Duration("d", 5*time.Second, "duration of each load level")
	levels := flag.String("c", "1,16,64", "concurrency levels")
	streamMB := flag.Int("stream-mb", 200, "size of the streaming case in MB (0 skips it)")
	flag.Parse()
	switch *role {
	case "upstream":
		serve(*addr, atlassiansim.New())
	case "floor":
		serve(*addr, floor(*upstreamURL))
	case "latchkey":
		runLatchkey(*addr, *upstreamURL)
	default:
		orchestrate(*dur, *levels, *streamMB)
	}
}

func serve(addr string, h http.Handler) {
	srv := &http.Server{Addr: addr, Handler: h, ReadHeaderTimeout: 10 * time.Second}
	log.Fatal(srv.ListenAndServe())
}

// floor is what any proxy must cost: forward, add a Basic header, nothing else.
func floor(upstream string) http.Handler {
	u, _ := url.Parse(upstream)
	auth := "Basic " + base64.StdEncoding.EncodeToString([]byte(atlassiansim.DemoEmail+":"+atlassiansim.DemoToken))
	tr := &http.Transport{MaxIdleConns: 512, MaxIdleConnsPerHost: 128, IdleConnTimeout: 90 * time.Second}
	return &httputil.ReverseProxy{Transport: tr, FlushInterval: -1, Rewrite: func(pr *httputil.ProxyRequest) {
		pr.SetURL(u)
		pr.Out.Header.Set("Authorization", auth)
	}}
}

func runLatchkey(addr, upstream string) {
	dir, _ := os.MkdirTemp("", "latchkey-bench-")
	defer os.RemoveAll(dir)
	env := map[string]string{"LATCHKEY_ADDR": addr, "LATCHKEY_DATA_DIR": dir, "LATCHKEY_SECRET_KEY": secretKey,
		"LATCHKEY_UPSTREAM_REWRITE": "https://api.atlassian.com=" + upstream, "LATCHKEY_LOG_LEVEL": "error", "LATCHKEY_LOG_FORMAT": "json"}
	cfg, err := config.Load(func(k string) string { return env[k] }, nil, os.Stderr)
	if err != nil {
		log.Fatal(err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	a, err := app.New(ctx, cfg, app.NewLogger(cfg, os.Stderr), app.Deps{})
	if err != nil {
		log.Fatal(err)
	}
	defer a.Close()
	if err := a.Serve(ctx, func(string) { fmt.Println("READY") }); err != nil {
		log.Fatal(err)
	}
}

type proc struct {
	cmd  *exec.Cmd
	addr string
}

func start(role, upstream string) *proc {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close()
	exe, _ := os.Executable()
	cmd := exec.Command(exe, "-role", role, "-addr", addr, "-upstream", upstream)
	cmd.Stderr = os.Stderr
	out, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		log.Fatal(err)
	}
	if role == "latchkey" {
		buf := make([]byte, 6)
		if _, err := io.ReadFull(out, buf); err != nil || string(buf) != "READY\n" {
			log.Fatalf("latchkey did not start: %v %q", err, buf)
		}
	} else {
		for i := 0; ; i++ { // the child binds its port; wait until it accepts
			if c, err := net.Dial("tcp", addr); err == nil {
				c.Close()
				break
			}
			if i > 500 {
				log.Fatalf("%s did not start", role)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	return &proc{cmd: cmd, addr: addr}
}

func (p *proc) stop() { _ = p.cmd.Process.Signal(syscall.SIGTERM); _, _ = p.cmd.Process.Wait() }

// cpu is the process's user+system CPU time.
func (p *proc) cpu() time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * time.Second / 100 // USER_HZ is 100 on Linux
}

// mem returns the current and peak resident set size in MiB.
func (p *proc) mem() (rss, peak float64) {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		if len(f) < 2 {
			continue
		}
		kb, _ := strconv.ParseFloat(f[1], 64)
		switch f[0] {
		case "VmRSS:":
			rss = kb / 1024
		case "VmHWM:":
			peak = kb / 1024
		}
	}
	return
}

type result struct {
	rps      float64
	p50, p99 time.Duration
	errors   int64
	n        int
}

func load(target string, header http.Header, c int, d time.Duration) result {
	tr := &http.Transport{MaxIdleConns: c * 2, MaxIdleConnsPerHost: c * 2, IdleConnTimeout: time.Minute}
	hc := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	defer tr.CloseIdleConnections()
	do := func() error {
		req, _ := http.NewRequest(http.MethodGet, target, nil)
		req.Header = header.Clone()
		res, err := hc.Do(req)
		if err != nil {
			return err
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if res.StatusCode != 200 {
			return fmt.Errorf("status %d", res.StatusCode)
		}
		return nil
	}
	warm := time.Now().Add(time.Second)
	for time.Now().Before(warm) {
		_ = do()
	}
	var mu sync.Mutex
	var lat []time.Duration
	var errs atomic.Int64
	deadline := time.Now().Add(d)
	var wg sync.WaitGroup
	start := time.Now()
	for i := 0; i < c; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			local := make([]time.Duration, 0, 4096)
			for time.Now().Before(deadline) {
				t := time.Now()
				if err := do(); err != nil {
					errs.Add(1)
					continue
				}
				local = append(local, time.Since(t))
			}
			mu.Lock()
			lat = append(lat, local...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	r := result{errors: errs.Load(), n: len(lat)}
	if len(lat) > 0 {
		r.rps = float64(len(lat)) / elapsed.Seconds()
		r.p50, r.p99 = lat[len(lat)/2], lat[len(lat)*99/100]
	}
	return r
}

func ms(d time.Duration) string { return fmt.Sprintf("%.3f ms", float64(d.Microseconds())/1000) }

func orchestrate(d time.Duration, levels string, streamMB int) {
	up := start("upstream", "")
	defer up.stop()
	upURL := "http://" + up.addr
	fl := start("floor", upURL)
	defer fl.stop()
	lk := start("latchkey", upURL)
	defer lk.stop()
	idle, _ := lk.mem()

	ctx := context.Background()
	c := client.New("http://"+lk.addr, secretKey)
	if _, err := c.CreateIntegration(ctx, client.CreateIntegrationRequest{Provider: "atlassian-service-account-api-token", UniqueKey: "jira"}); err != nil {
		log.Fatal(err)
	}
	if _, err := c.ImportConnection(ctx, client.ImportConnectionRequest{ProviderConfigKey: "jira", ConnectionID: "bench",
		Credentials:      client.Credentials{Type: "BASIC", Username: atlassiansim.DemoEmail, Password: atlassiansim.DemoToken},
		ConnectionConfig: map[string]any{"cloudId": atlassiansim.DemoCloudID}}); err != nil {
		log.Fatal(err)
	}
	endpoint := "/ex/jira/" + atlassiansim.DemoCloudID + "/rest/api/3/myself"
	lkHeader := http.Header{"Authorization": {"Bearer " + secretKey}, "Provider-Config-Key": {"jira"}, "Connection-Id": {"bench"}}

	fmt.Printf("# latchkey proxy vs floor (%s, %s/%s, %d CPUs, Go %s)\n\n", cpuModel(), runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), runtime.Version())
	fmt.Printf("Each level runs %s after a 1 s warm-up. Upstream: simulated Atlassian GET /myself (about 350 bytes of JSON).\n\n", d)
	fmt.Println("| concurrency | floor req/s | latchkey req/s | ratio | floor p50 | latchkey p50 | added p50 | floor p99 | latchkey p99 | latchkey CPU/req | latchkey RSS |")
	fmt.Println("|---|---|---|---|---|---|---|---|---|---|---|")
	for _, s := range strings.Split(levels, ",") {
		n, _ := strconv.Atoi(strings.TrimSpace(s))
		f := load("http://"+fl.addr+endpoint, http.Header{}, n, d)
		cpu0 := lk.cpu()
		l := load("http://"+lk.addr+"/proxy"+endpoint, lkHeader, n, d)
		cpuPer := time.Duration(0)
		if l.n > 0 {
			cpuPer = (lk.cpu() - cpu0) / time.Duration(l.n)
		}
		rss, _ := lk.mem()
		fmt.Printf("| %d | %.0f | %.0f | %.0f %% | %s | %s | %s | %s | %s | %s | %.1f MiB |\n", n, f.rps, l.rps, 100*l.rps/f.rps,
			ms(f.p50), ms(l.p50), ms(l.p50-f.p50), ms(f.p99), ms(l.p99), ms(cpuPer), rss)
		if f.errors+l.errors > 0 {
			fmt.Printf("\n(errors: floor %d, latchkey %d)\n", f.errors, l.errors)
		}
	}
	fmt.Printf("\nlatchkey idle RSS after start-up and one connection: %.1f MiB\n", idle)

	if streamMB > 0 {
		size := int64(streamMB) << 20
		fmt.Printf("\n## Streaming %d MB through each\n\n| case | floor | latchkey | latchkey peak RSS |\n|---|---|---|---|\n", streamMB)
		_, before := lk.mem()
		fd := stream("GET", "http://"+fl.addr+"/ex/jira/"+atlassiansim.DemoCloudID+"/rest/api/3/download?bytes="+strconv.FormatInt(size, 10), nil, 0)
		ld := stream("GET", "http://"+lk.addr+"/proxy/ex/jira/"+atlassiansim.DemoCloudID+"/rest/api/3/download?bytes="+strconv.FormatInt(size, 10), lkHeader, 0)
		_, afterDown := lk.mem()
		fmt.Printf("| download | %s | %s | %.1f MiB (%.1f before) |\n", fd, ld, afterDown, before)
		fu := stream("PUT", "http://"+fl.addr+"/ex/jira/"+atlassiansim.DemoCloudID+"/rest/api/3/upload", nil, size)
		lu := stream("PUT", "http://"+lk.addr+"/proxy/ex/jira/"+atlassiansim.DemoCloudID+"/rest/api/3/upload", lkHeader, size)
		_, afterUp := lk.mem()
		fmt.Printf("| upload | %s | %s | %.1f MiB |\n", fu, lu, afterUp)
	}
}

// stream moves size bytes (upload) or reads the whole answer (download) and
// reports throughput.
func stream(method, target string, header http.Header, size int64) string {
	var body io.Reader
	if size > 0 {
		body = io.LimitReader(atlassiansim.Pattern(), size)
	}
	req, _ := http.NewRequest(method, target, body)
	if header != nil {
		req.Header = header.Clone()
	}
	if size > 0 {
		req.ContentLength = size
		req.Header.Set("Content-Type", "application/octet-stream")
	}
	t := time.Now()
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return "error: " + err.Error()
	}
	n, _ := io.Copy(io.Discard, res.Body)
	res.Body.Close()
	moved := n
	if size > 0 {
		moved = size
	}
	el := time.Since(t)
	return fmt.Sprintf("%.0f MB/s (%d)", float64(moved)/(1<<20)/el.Seconds(), res.StatusCode)
}

func cpuModel() string {
	b, _ := os.ReadFile("/proc/cpuinfo")
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "model name") {
			return strings.TrimSpace(strings.SplitN(l, ":", 2)[1])
		}
	}
	return "unknown CPU"
}
