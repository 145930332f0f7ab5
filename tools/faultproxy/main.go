// faultproxy is a TCP proxy for the end-to-end tests of liqolet: it listens on a
// loopback address, forwards every connection to one API server byte for byte (TLS passes
// through untouched, so a kubeconfig only needs the proxy's port), and injects faults that
// a control endpoint (HTTP on loopback) switches at run time:
//
//	none                  forward (the default)
//	latency   ms=N        hold every piece, both ways, N ms before passing it on
//	trickle   rate=N      server-to-client bytes at N bytes a second (default 1)
//	stall     after=N     after N more server-to-client bytes of a connection, forward
//	                      nothing more on it (both ways; its bytes are read and dropped)
//	reset     after=N     after N more server-to-client bytes, reset the connection (RST
//	                      to the client: SO_LINGER 0), usually in the middle of a TLS record
//	blackhole             forward nothing: new connections are accepted and never
//	                      connected upstream, open ones drop every byte both ways
//
// A connection that was stalled or blackholed stays dead when the fault is cleared (its
// byte stream lost bytes; only the client's own deadlines end it), like a flow behind a
// NAT that forgot it. Latency and trickle lose nothing: the stream goes on at full speed
// once they are cleared.
//
// Control (loopback only):
//
//	POST /fault?mode=stall&after=200   set the fault (applies to open connections too)
//	GET  /stats                        JSON counters
//	POST /close                        reset every open connection
//
// Usage: faultproxy -target 127.0.0.1:6443 [-listen 127.0.0.1:0] [-control 127.0.0.1:0]
// It prints one line "faultproxy listen=ADDR control=ADDR" on stdout when ready.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

type mode int

const (
	modeNone mode = iota
	modeLatency
	modeTrickle
	modeStall
	modeReset
	modeBlackhole
)

var modeNames = map[string]mode{"none": modeNone, "latency": modeLatency, "trickle": modeTrickle,
	"stall": modeStall, "reset": modeReset, "blackhole": modeBlackhole}

func (m mode) String() string {
	for k, v := range modeNames {
		if v == m {
			return k
		}
	}
	return "?"
}

// fault is the current setting; gen changes with every setting, so a connection can
// count "after" bytes from the moment it first sees one.
type fault struct {
	mode  mode
	gen   uint64
	ms    int
	rate  int
	after int64
}

type proxy struct {
	target string
	mu     sync.Mutex
	cur    fault
	conns  map[*pconn]struct{}

	accepted, active, upBytes, downBytes, resets, stalls, blackholed atomic.Int64
}

func (p *proxy) fault() fault {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cur
}

// pconn is one proxied connection.
type pconn struct {
	p        *proxy
	client   *net.TCPConn
	server   *net.TCPConn // nil when accepted under a blackhole
	mu       sync.Mutex
	dead     bool   // stalled or blackholed: drop everything from now on
	gen      uint64 // the fault generation "base" was taken in
	base     int64  // server-to-client bytes forwarded when gen was first seen
	down     int64  // server-to-client bytes forwarded
	closeOne sync.Once
	halves   atomic.Int32 // directions ended by EOF
}

func (c *pconn) close(reset bool) {
	c.closeOne.Do(func() {
		if reset {
			_ = c.client.SetLinger(0)
			c.p.resets.Add(1)
		}
		_ = c.client.Close()
		if c.server != nil {
			if reset {
				_ = c.server.SetLinger(0)
			}
			_ = c.server.Close()
		}
		c.p.mu.Lock()
		delete(c.p.conns, c)
		c.p.mu.Unlock()
		c.p.active.Add(-1)
	})
}

// allowance says how many of n server-to-client bytes may go out under f, and what
// happens at the limit.
func (c *pconn) allowance(f fault, n int) (int, mode) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen != f.gen {
		c.gen = f.gen
		c.base = c.down
	}
	if f.mode != modeStall && f.mode != modeReset {
		return n, modeNone
	}
	left := c.base + f.after - c.down
	if left < 0 {
		left = 0
	}
	if int64(n) <= left {
		return n, modeNone
	}
	return int(left), f.mode
}

func (c *pconn) isDead() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.dead
}

func (c *pconn) kill(stats *atomic.Int64) {
	c.mu.Lock()
	if !c.dead {
		c.dead = true
		stats.Add(1)
	}
	c.mu.Unlock()
}

// pump copies src to dst under the current fault. down: server to client. An orderly
// end (EOF) is passed on as a half close; the connection closes when both directions
// have ended, or at once on an error.
func (c *pconn) pump(src, dst *net.TCPConn, down bool) {
	buf := make([]byte, 32*1024)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if !c.forward(dst, buf[:n], down) {
				c.close(false)
				return
			}
		}
		if err != nil {
			if !errors.Is(err, io.EOF) || dst == nil {
				c.close(false)
				return
			}
			_ = dst.CloseWrite()
			if c.halves.Add(1) == 2 {
				c.close(false)
			}
			return
		}
	}
}

// forward passes b to dst; false ends the connection.
func (c *pconn) forward(dst *net.TCPConn, b []byte, down bool) bool {
	for len(b) > 0 {
		f := c.p.fault()
		if f.mode == modeBlackhole {
			c.kill(&c.p.blackholed)
		}
		if c.isDead() || dst == nil {
			return true // read and dropped
		}
		switch f.mode {
		case modeLatency:
			time.Sleep(time.Duration(f.ms) * time.Millisecond)
		case modeTrickle:
			if down {
				rate := f.rate
				if rate <= 0 {
					rate = 1
				}
				if !c.write(dst, b[:1], down) {
					return false
				}
				b = b[1:]
				time.Sleep(time.Second / time.Duration(rate))
				continue
			}
		}
		if down {
			n, what := c.allowance(f, len(b))
			if n > 0 && !c.write(dst, b[:n], down) {
				return false
			}
			b = b[n:]
			switch what {
			case modeStall:
				c.kill(&c.p.stalls)
				return true
			case modeReset:
				c.close(true)
				return false
			}
			continue
		}
		return c.write(dst, b, down)
	}
	return true
}

func (c *pconn) write(dst *net.TCPConn, b []byte, down bool) bool {
	n, err := dst.Write(b)
	if down {
		c.mu.Lock()
		c.down += int64(n)
		c.mu.Unlock()
		c.p.downBytes.Add(int64(n))
	} else {
		c.p.upBytes.Add(int64(n))
	}
	return err == nil
}

func (p *proxy) serve(ln net.Listener) {
	for {
		cl, err := ln.Accept()
		if err != nil {
			log.Printf("faultproxy: accept: %v", err)
			return
		}
		p.accepted.Add(1)
		p.active.Add(1)
		go p.handle(cl.(*net.TCPConn))
	}
}

func (p *proxy) handle(cl *net.TCPConn) {
	c := &pconn{p: p, client: cl}
	f := p.fault()
	c.gen = f.gen
	if f.mode != modeBlackhole {
		sv, err := net.DialTimeout("tcp", p.target, 10*time.Second)
		if err != nil {
			log.Printf("faultproxy: dial %s: %v", p.target, err)
			_ = cl.Close()
			p.active.Add(-1)
			return
		}
		c.server = sv.(*net.TCPConn)
	}
	p.mu.Lock()
	p.conns[c] = struct{}{}
	p.mu.Unlock()
	if c.server == nil {
		c.kill(&p.blackholed)
		c.pump(cl, nil, false) // read and drop until the client gives up
		return
	}
	go c.pump(c.server, cl, true)
	c.pump(cl, c.server, false)
}

func (p *proxy) setFault(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		http.Error(w, "POST only", http.StatusMethodNotAllowed)
		return
	}
	q := r.URL.Query()
	m, ok := modeNames[q.Get("mode")]
	if !ok {
		http.Error(w, "unknown mode "+strconv.Quote(q.Get("mode")), http.StatusBadRequest)
		return
	}
	num := func(k string, def int64) (int64, bool) {
		s := q.Get(k)
		if s == "" {
			return def, true
		}
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil || v < 0 {
			http.Error(w, "bad "+k, http.StatusBadRequest)
			return 0, false
		}
		return v, true
	}
	ms, ok1 := num("ms", 0)
	rate, ok2 := num("rate", 1)
	after, ok3 := num("after", 0)
	if !ok1 || !ok2 || !ok3 {
		return
	}
	p.mu.Lock()
	p.cur = fault{mode: m, gen: p.cur.gen + 1, ms: int(ms), rate: int(rate), after: after}
	p.mu.Unlock()
	log.Printf("faultproxy: fault %s ms=%d rate=%d after=%d", m, ms, rate, after)
	fmt.Fprintf(w, "%s\n", m)
}

func (p *proxy) stats(w http.ResponseWriter, _ *http.Request) {
	f := p.fault()
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{
		"mode": f.mode.String(), "accepted": p.accepted.Load(), "active": p.active.Load(),
		"up_bytes": p.upBytes.Load(), "down_bytes": p.downBytes.Load(),
		"resets": p.resets.Load(), "stalls": p.stalls.Load(), "blackholed": p.blackholed.Load(),
	})
}

func (p *proxy) closeAll(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		http.Error(w, "POST only", http.StatusMethodNotAllowed)
		return
	}
	p.mu.Lock()
	all := make([]*pconn, 0, len(p.conns))
	for c := range p.conns {
		all = append(all, c)
	}
	p.mu.Unlock()
	for _, c := range all {
		c.close(true)
	}
	fmt.Fprintf(w, "%d\n", len(all))
}

func loopbackOnly(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return err
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("%s is not a loopback address", addr)
	}
	return nil
}

func main() {
	listen := flag.String("listen", "127.0.0.1:0", "proxy address (loopback)")
	control := flag.String("control", "127.0.0.1:0", "control address (loopback)")
	target := flag.String("target", "", "API server host:port")
	flag.Parse()
	if *target == "" {
		log.Fatal("faultproxy: -target is required")
	}
	for _, a := range []string{*listen, *control} {
		if err := loopbackOnly(a); err != nil {
			log.Fatalf("faultproxy: %v", err)
		}
	}
	p := &proxy{target: *target, conns: map[*pconn]struct{}{}}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		log.Fatalf("faultproxy: %v", err)
	}
	cln, err := net.Listen("tcp", *control)
	if err != nil {
		log.Fatalf("faultproxy: %v", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/fault", p.setFault)
	mux.HandleFunc("/stats", p.stats)
	mux.HandleFunc("/close", p.closeAll)
	go func() { log.Fatal(http.Serve(cln, mux)) }()
	fmt.Fprintf(os.Stdout, "faultproxy listen=%s control=%s\n", ln.Addr(), cln.Addr())
	p.serve(ln)
}
