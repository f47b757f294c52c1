// Command load is the load run of the embedded SIP engine (not run by
// `make test`):
//
//	go run ./tests/load -calls 1000 -hold 20s
//
// It serves calls in this process, once with the engine (answer, record
// nothing, play a prompt in a loop, read digits) and once with a bare diago
// answer-and-play loop as the baseline, and places the calls from a child
// process (the same program, -role caller) that sends 20 ms PCMU audio and
// one RFC 4733 digit per call. It reports failed calls, RTP loss seen by
// the callers, p99 from 200 OK to the first RTP packet, and the service's
// CPU, memory and goroutines per call at the plateau.
package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/emiago/diago"
	"github.com/emiago/sipgo"
	sipmsg "github.com/emiago/sipgo/sip"

	"hotline/telephony"
	"hotline/telephony/sip"
	"hotline/telephony/sip/wav"
)

type callerReport struct {
	Calls, Failed   int
	LossPct         float64
	FirstPacketP50  time.Duration
	FirstPacketP99  time.Duration
	PacketsReceived int64
}

func main() {
	role := flag.String("role", "run", "run | caller")
	calls := flag.Int("calls", 1000, "concurrent calls")
	hold := flag.Duration("hold", 20*time.Second, "how long every call stays up")
	rate := flag.Int("rate", 200, "calls set up per second")
	target := flag.String("target", "", "caller: service address")
	modes := flag.String("modes", "diago,engine", "services to measure, in order")
	flag.Parse()
	if *role == "caller" {
		rep := runCallers(*target, *calls, *hold, *rate)
		_ = json.NewEncoder(os.Stdout).Encode(rep)
		return
	}
	fmt.Printf("load run: %d calls, hold %s, %d calls/s, GOMAXPROCS %d\n", *calls, *hold, *rate, runtime.GOMAXPROCS(0))
	for _, m := range strings.Split(*modes, ",") {
		if err := measure(m, *calls, *hold, *rate); err != nil {
			fmt.Fprintln(os.Stderr, m+":", err)
			os.Exit(1)
		}
	}
}

// prompt is 10 s of a 440 Hz tone.
func promptPCM() []int16 {
	out := make([]int16, 10*wav.SampleRate)
	for i := range out {
		out[i] = int16(6000 * math.Sin(2*math.Pi*440*float64(i)/wav.SampleRate))
	}
	return out
}

func freePort() int {
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port
}

func measure(mode string, calls int, hold time.Duration, rate int) error {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	var digits atomic.Int64
	var addr string
	var served chan error = make(chan error, 1)
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	g0 := runtime.NumGoroutine()
	switch mode {
	case "engine":
		dir, _ := os.MkdirTemp("", "load")
		defer os.RemoveAll(dir)
		_ = os.WriteFile(filepath.Join(dir, "prompt.wav"), wav.Encode(promptPCM()), 0o644)
		e, err := sip.New(sip.Config{UDP: "127.0.0.1:0", PromptDir: dir, RecordingDir: dir, MaxCalls: calls + 100}, log)
		if err != nil {
			return err
		}
		addr = e.Addr("udp")
		go func() {
			served <- e.Serve(ctx, telephony.HandlerFunc(func(ctx context.Context, c telephony.Call) {
				if c.Answer(ctx) != nil {
					return
				}
				for {
					pb, err := c.Play(ctx, "prompt")
					if err != nil {
						return
					}
				wait:
					for {
						select {
						case <-c.Digits():
							digits.Add(1)
						case <-pb.Done():
							break wait
						case <-ctx.Done():
							return
						}
					}
				}
			}))
		}()
	case "diago":
		port := freePort()
		addr = "127.0.0.1:" + strconv.Itoa(port)
		ua, _ := sipgo.NewUA()
		defer ua.Close()
		dg := diago.NewDiago(ua, diago.WithLogger(log), diago.WithTransport(diago.Transport{Transport: "udp", BindHost: "127.0.0.1", BindPort: port}))
		body := wav.Encode(promptPCM())
		if err := dg.ServeBackground(ctx, func(d *diago.DialogServerSession) {
			med, err := d.Answer(diago.AnswerOptions{})
			if err != nil {
				return
			}
			pb, err := med.PlaybackControlCreate()
			if err != nil {
				return
			}
			go func() { <-d.Context().Done(); pb.Stop() }()
			for d.Context().Err() == nil {
				if _, err := pb.Play(bytes.NewReader(body), "audio/wav"); err != nil {
					return
				}
			}
		}); err != nil {
			return err
		}
		go func() { <-ctx.Done(); served <- nil }()
	default:
		return fmt.Errorf("unknown mode %q", mode)
	}

	self, _ := os.Executable()
	cmd := exec.Command(self, "-role", "caller", "-target", addr, "-calls", strconv.Itoa(calls),
		"-hold", hold.String(), "-rate", strconv.Itoa(rate))
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, os.Stderr
	if err := cmd.Start(); err != nil {
		return err
	}
	// Sample the plateau: all calls up, before the callers hang up.
	setup := time.Duration(calls/rate)*time.Second + 2*time.Second
	time.Sleep(setup)
	u0 := cpuTime()
	t0 := time.Now()
	time.Sleep(min(hold-setup-time.Second, 10*time.Second))
	cpu := cpuTime() - u0
	wall := time.Since(t0)
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	g := runtime.NumGoroutine()
	if err := cmd.Wait(); err != nil {
		return fmt.Errorf("caller: %w", err)
	}
	var rep callerReport
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		return fmt.Errorf("caller report %q: %w", out.String(), err)
	}
	cancel()
	<-served
	up := float64(rep.Calls - rep.Failed)
	fmt.Printf("%-7s calls %d failed %d | loss %.3f%% | 200OK->first RTP p50 %s p99 %s | CPU %.1f%% of a core = %.1f µs/s per call | heap %.0f KB/call, sys %.0f KB/call | goroutines %.2f/call | digits %d\n",
		mode, rep.Calls, rep.Failed, rep.LossPct, rep.FirstPacketP50.Round(100*time.Microsecond), rep.FirstPacketP99.Round(100*time.Microsecond),
		100*cpu.Seconds()/wall.Seconds(), 1e6*cpu.Seconds()/wall.Seconds()/up,
		float64(ms.HeapInuse-before.HeapInuse)/1024/up, float64(ms.Sys-before.Sys)/1024/up,
		float64(g-g0)/up, digits.Load())
	return nil
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// ---- the caller side ----

type leg struct {
	remote   *net.UDPAddr
	seq      uint16
	ts       uint32
	ssrc     uint32
	answered atomic.Int64 // unix ns of the 200 OK
	first    atomic.Int64 // ns after answered of the first RTP packet
	recv     atomic.Int64
	minSeq   atomic.Int64
	maxSeq   atomic.Int64
	sess     *sipgo.DialogClientSession
	ext      int64 // extended sequence number seen last; owned by the reader
}

// rtpSide is the callers' RTP: one socket and one reader for every call,
// told apart by the service's source port, so that the caller process
// stays light and measures the service, not itself.
type rtpSide struct {
	conn *net.UDPConn
	mu   sync.Mutex
	legs map[int]*leg // by the service's RTP port
}

func (r *rtpSide) read() {
	buf := make([]byte, 1500)
	for {
		n, from, err := r.conn.ReadFromUDP(buf)
		if err != nil {
			return
		}
		r.mu.Lock()
		l := r.legs[from.Port]
		r.mu.Unlock()
		if l == nil || n < 12 {
			continue
		}
		l.packet(buf[:n])
	}
}

func runCallers(target string, n int, hold time.Duration, rate int) callerReport {
	ua, _ := sipgo.NewUA(sipgo.WithUserAgent("load"))
	cli, _ := sipgo.NewClient(ua, sipgo.WithClientHostname("127.0.0.1"))
	contact := sipmsg.ContactHeader{Address: sipmsg.Uri{User: "load", Host: "127.0.0.1"}}
	dc := sipgo.NewDialogClientCache(cli, contact)
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		panic(err)
	}
	_ = conn.SetReadBuffer(4 << 20)
	side := &rtpSide{conn: conn, legs: map[int]*leg{}}
	go side.read()
	var mu sync.Mutex
	var legs []*leg
	var failed atomic.Int64
	var wg sync.WaitGroup
	interval := time.Second / time.Duration(rate)
	start := time.Now()
	for i := range n {
		time.Sleep(time.Until(start.Add(time.Duration(i) * interval)))
		wg.Add(1)
		go func() {
			defer wg.Done()
			l, err := place(dc, side, target, i)
			if err != nil {
				failed.Add(1)
				fmt.Fprintln(os.Stderr, "call failed:", err)
				return
			}
			mu.Lock()
			legs = append(legs, l)
			mu.Unlock()
		}()
	}
	wg.Wait()
	// One shared sender: 20 ms PCMU frames to every call, one digit each
	// after two seconds.
	stop := make(chan struct{})
	sent := make(chan struct{})
	go func() {
		defer close(sent)
		frame := make([]byte, 12+160)
		for i := range frame[12:] {
			frame[12+i] = 0xff
		}
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		ticks := 0
		for {
			select {
			case <-stop:
				return
			case <-t.C:
			}
			ticks++
			mu.Lock()
			for _, l := range legs {
				pt, payload, advance := byte(0), frame[12:], uint32(160)
				if ticks >= 100 && ticks < 108 { // the digit '5'
					end := ticks >= 105
					payload = []byte{5, 10, 0, byte(160 * min(ticks-99, 5))}
					if end {
						payload[1] |= 0x80
					}
					pt, advance = 101, 0
					if ticks == 107 {
						advance = 800
					}
				}
				pkt := make([]byte, 12, 12+len(payload))
				pkt[0], pkt[1] = 0x80, pt
				binary.BigEndian.PutUint16(pkt[2:], l.seq)
				binary.BigEndian.PutUint32(pkt[4:], l.ts)
				binary.BigEndian.PutUint32(pkt[8:], l.ssrc)
				pkt = append(pkt, payload...)
				l.seq++
				l.ts += advance
				_, _ = conn.WriteToUDP(pkt, l.remote)
			}
			mu.Unlock()
		}
	}()
	time.Sleep(time.Until(start.Add(hold)))
	close(stop)
	<-sent
	var firsts []time.Duration
	var recv, expected int64
	for _, l := range legs {
		if f := l.first.Load(); f > 0 {
			firsts = append(firsts, time.Duration(f))
		}
		r := l.recv.Load()
		recv += r
		if r > 0 {
			expected += l.maxSeq.Load() - l.minSeq.Load() + 1
		}
	}
	for _, l := range legs {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = l.sess.Bye(ctx)
		cancel()
	}
	_ = conn.Close()
	slices.Sort(firsts)
	pct := func(p float64) time.Duration {
		if len(firsts) == 0 {
			return 0
		}
		return firsts[min(len(firsts)-1, int(p*float64(len(firsts))))]
	}
	loss := 0.0
	if expected > 0 {
		loss = 100 * float64(expected-recv) / float64(expected)
	}
	return callerReport{Calls: n, Failed: n - len(legs), LossPct: loss,
		FirstPacketP50: pct(0.5), FirstPacketP99: pct(0.99), PacketsReceived: recv}
}

func place(dc *sipgo.DialogClientCache, side *rtpSide, target string, i int) (*leg, error) {
	port := side.conn.LocalAddr().(*net.UDPAddr).Port
	sdp := fmt.Sprintf("v=0\r\no=- %d 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio %d RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15\r\na=sendrecv\r\n", i, port)
	var uri sipmsg.Uri
	_ = sipmsg.ParseUri("sip:96596@"+target, &uri)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	sess, err := dc.Invite(ctx, uri, []byte(sdp), sipmsg.NewHeader("Content-Type", "application/sdp"))
	if err != nil {
		return nil, err
	}
	l := &leg{ssrc: uint32(i + 1), sess: sess, ext: -1}
	if err := sess.WaitAnswer(ctx, sipgo.AnswerOptions{}); err != nil {
		return nil, err
	}
	l.answered.Store(time.Now().UnixNano())
	l.remote, err = remoteRTP(sess.InviteResponse.Body())
	if err != nil {
		return nil, err
	}
	// Known before the ACK: the service sends nothing until it has it.
	side.mu.Lock()
	side.legs[l.remote.Port] = l
	side.mu.Unlock()
	if err := sess.Ack(ctx); err != nil {
		return nil, err
	}
	return l, nil
}

// packet counts one RTP packet of the service.
func (l *leg) packet(p []byte) {
	if l.recv.Add(1) == 1 {
		if a := l.answered.Load(); a > 0 {
			l.first.Store(time.Now().UnixNano() - a)
		}
	}
	seq := int64(binary.BigEndian.Uint16(p[2:]))
	if l.ext < 0 {
		l.ext = seq
		l.minSeq.Store(seq)
	} else if d := (seq - l.ext%65536 + 65536) % 65536; d < 32768 {
		l.ext += d // unwrap the 16-bit sequence number
	}
	l.maxSeq.Store(l.ext)
}

func remoteRTP(sdp []byte) (*net.UDPAddr, error) {
	var ip net.IP
	port := 0
	for line := range strings.Lines(string(sdp)) {
		line = strings.TrimSpace(line)
		if v, ok := strings.CutPrefix(line, "c=IN IP4 "); ok {
			ip = net.ParseIP(v)
		}
		if v, ok := strings.CutPrefix(line, "m=audio "); ok {
			port, _ = strconv.Atoi(strings.Fields(v)[0])
		}
	}
	if ip == nil || port == 0 {
		return nil, fmt.Errorf("no RTP address in answer")
	}
	return &net.UDPAddr{IP: ip, Port: port}, nil
}
