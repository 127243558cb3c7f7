// go-memserver: the memory contract (docs/MEM_PROTOCOL.md) in a garbage-collected runtime.
//
//	go-memserver [--host 127.0.0.1] [--port 0] [--leak-bytes N]
//
// net/http serving HTTP/1.1 and h2c (prior knowledge or Upgrade) on one port. GET /mem runs full
// collections until pooled objects are gone too, returns freed memory to the OS
// (debug.FreeOSMemory), then samples;
// GET /mem?trim=0 samples only; live_heap_bytes is the runtime's HeapAlloc. GET /bytes/N answers
// N bytes of memgate's body pattern (byte i is i % 251), /healthz {"status":"ok"}, anything else
// "ok\n". With --leak-bytes N every request but /mem and /healthz keeps N bytes reachable for
// ever: the per-request leak a gate must catch, in a heap only the runtime can measure (its
// allocator never goes through malloc). The first stdout line is `listening on HOST:PORT`;
// SIGTERM or SIGINT shut down gracefully and exit 0.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/h2c"
)

const patternPeriod = 251

// One immutable buffer: any body of up to 1 MiB starting at any offset is a slice of it.
var pattern = func() []byte {
	b := make([]byte, patternPeriod+(1<<20))
	for i := range b {
		b[i] = byte(i % patternPeriod)
	}
	return b
}()

type server struct {
	leakBytes   int
	mu          sync.Mutex
	leaked      [][]byte
	leakedBytes int64
	h1Requests  atomic.Int64
	h2Requests  atomic.Int64
}

func (s *server) count(r *http.Request) {
	if r.ProtoMajor == 2 {
		s.h2Requests.Add(1)
	} else {
		s.h1Requests.Add(1)
	}
	if s.leakBytes > 0 {
		block := make([]byte, s.leakBytes)
		for i := range block {
			block[i] = 0xab
		}
		s.mu.Lock()
		s.leaked = append(s.leaked, block)
		s.leakedBytes += int64(len(block))
		s.mu.Unlock()
	}
}

func (s *server) serveBytes(w http.ResponseWriter, r *http.Request) {
	n, err := strconv.ParseInt(strings.TrimPrefix(r.URL.Path, "/bytes/"), 10, 64)
	if err != nil || n < 0 {
		http.Error(w, "GET /bytes/N wants a byte count", http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Length", strconv.FormatInt(n, 10))
	for offset := int64(0); offset < n; {
		start := offset % patternPeriod
		size := n - offset
		if size > 1<<20 {
			size = 1 << 20
		}
		if _, err := w.Write(pattern[start : start+size]); err != nil {
			return
		}
		offset += size
	}
}

// smaps reads Rss and Anonymous (kB) from /proc/self/smaps_rollup, in bytes.
func smaps() (rss, anon int64) {
	f, err := os.Open("/proc/self/smaps_rollup")
	if err != nil {
		return 0, 0
	}
	defer f.Close()
	scanner := bufio.NewScanner(f)
	for scanner.Scan() {
		fields := strings.Fields(scanner.Text())
		if len(fields) < 2 {
			continue
		}
		kib, _ := strconv.ParseInt(fields[1], 10, 64)
		switch fields[0] {
		case "Rss:":
			rss = kib * 1024
		case "Anonymous:":
			anon = kib * 1024
		}
	}
	return rss, anon
}

func vmHWM() int64 {
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(status), "\n") {
		if fields := strings.Fields(line); len(fields) >= 2 && fields[0] == "VmHWM:" {
			kib, _ := strconv.ParseInt(fields[1], 10, 64)
			return kib * 1024
		}
	}
	return 0
}

func jsonError(w http.ResponseWriter, status int, message string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"error": message})
}

func (s *server) serveMem(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		jsonError(w, http.StatusMethodNotAllowed, "only GET is allowed on /mem")
		return
	}
	trimValues, asked := r.URL.Query()["trim"]
	if asked && (len(trimValues) != 1 || (trimValues[0] != "0" && trimValues[0] != "1")) {
		jsonError(w, http.StatusBadRequest, "trim must be 0 or 1")
		return
	}
	trim := !asked || trimValues[0] == "1"
	rssBefore, anonBefore := smaps()
	if trim {
		// A sync.Pool's objects survive one collection in its victim cache (net/http's
		// buffers and HTTP/2 data chunks among them, as many as the last burst of
		// concurrency left), so one collection leaves a live heap that varies by
		// hundreds of KiB from sample to sample. The second empties the victims too;
		// FreeOSMemory's own collection then returns the freed spans to the OS.
		runtime.GC()
		runtime.GC()
		debug.FreeOSMemory()
	}
	rss, anon := smaps()
	var stats runtime.MemStats
	runtime.ReadMemStats(&stats)
	s.mu.Lock()
	leaked := s.leakedBytes
	s.mu.Unlock()
	sample := map[string]any{
		"allocator":                  "go",
		"trimmed":                    trim,
		"live_heap_bytes":            stats.HeapAlloc,
		"rss_before_trim_bytes":      rssBefore,
		"rss_anon_before_trim_bytes": anonBefore,
		"rss_bytes":                  rss,
		"rss_anon_bytes":             anon,
		"vm_hwm_bytes":               vmHWM(),
		"allocations":                stats.Mallocs,
		"deallocations":              stats.Frees,
		"allocated_bytes":            stats.TotalAlloc,
		"requests":                   map[string]int64{"h1": s.h1Requests.Load(), "h2": s.h2Requests.Load()},
		"leaked_bytes":               leaked,
		"allocator_native": map[string]any{
			"heap_sys_bytes":      stats.HeapSys,
			"heap_idle_bytes":     stats.HeapIdle,
			"heap_released_bytes": stats.HeapReleased,
			"heap_objects":        stats.HeapObjects,
			"gc_cycles":           stats.NumGC,
			"go_version":          runtime.Version(),
		},
		"config": map[string]any{"leak_bytes": s.leakBytes},
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(sample)
}

func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// The two control endpoints are neither counted nor leaked on, as in refserver.
	switch r.URL.Path {
	case "/mem":
		s.serveMem(w, r)
		return
	case "/healthz":
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"status":"ok"}`)
		return
	}
	s.count(r)
	switch {
	case strings.HasPrefix(r.URL.Path, "/bytes/"):
		s.serveBytes(w, r)
	default:
		w.Header().Set("Content-Type", "text/plain")
		fmt.Fprint(w, "ok\n")
	}
}

func main() {
	host := flag.String("host", "127.0.0.1", "address to listen on")
	port := flag.Int("port", 0, "port (0: any free port)")
	leakBytes := flag.Int("leak-bytes", 0, "bytes each request keeps reachable for ever")
	flag.Parse()
	if flag.NArg() > 0 || *leakBytes < 0 || *port < 0 || *port > 65535 {
		fmt.Fprintln(os.Stderr, "usage: go-memserver [--host ADDRESS] [--port N] [--leak-bytes N]")
		os.Exit(2)
	}
	listener, err := net.Listen("tcp", net.JoinHostPort(*host, strconv.Itoa(*port)))
	if err != nil {
		fmt.Fprintf(os.Stderr, "go-memserver: cannot listen on %s:%d: %v\n", *host, *port, err)
		os.Exit(1)
	}
	fmt.Printf("listening on %s:%d\n", *host, listener.Addr().(*net.TCPAddr).Port)

	s := &server{leakBytes: *leakBytes}
	httpServer := &http.Server{Handler: h2c.NewHandler(s, &http2.Server{})}
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		<-stop
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		httpServer.Shutdown(ctx)
	}()
	if err := httpServer.Serve(listener); err != http.ErrServerClosed {
		fmt.Fprintln(os.Stderr, "go-memserver:", err)
		os.Exit(1)
	}
}
