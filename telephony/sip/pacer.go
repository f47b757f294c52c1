package sip

import (
	"context"
	"log/slog"
	"runtime"
	"sync"
	"time"

	"hotline/telephony"
)

// playback is a prompt being played on a call.
type playback struct {
	call *Call
	p    *prompt
	next int // next frame to send; owned by the pacer shard

	once sync.Once
	done chan struct{}
	mu   sync.Mutex
	err  error
}

var _ telephony.Playback = (*playback)(nil)

func (pb *playback) finish(err error) {
	pb.once.Do(func() {
		pb.mu.Lock()
		pb.err = err
		pb.mu.Unlock()
		close(pb.done)
	})
}

func (pb *playback) finished() bool {
	select {
	case <-pb.done:
		return true
	default:
		return false
	}
}

// Stop stops the prompt; the pacer sends no further frame of it.
func (pb *playback) Stop(ctx context.Context) error {
	pb.finish(nil)
	return nil
}

// Done is closed when the prompt ended, was stopped or the call ended.
func (pb *playback) Done() <-chan struct{} { return pb.done }

// Err is nil for a prompt played out or stopped, a hang-up error when the
// call ended during it.
func (pb *playback) Err() error {
	pb.mu.Lock()
	defer pb.mu.Unlock()
	return pb.err
}

// sendFrame sends frame i of the prompt and reports whether it was the last.
func (pb *playback) sendFrame(now time.Time) (last bool) {
	c, i := pb.call, pb.next
	pb.next++
	lo, hi := i*frameSamples, (i+1)*frameSamples
	payload := pb.p.ulaw[lo:hi]
	if c.alaw {
		payload = pb.p.alaw[lo:hi]
	}
	c.writeAudio(payload, pb.p.pcm[lo:hi], i == 0, now)
	return pb.next >= pb.p.frames()
}

// pacer sends the frames of every prompt playing, 20 ms apart, from a few
// shared goroutines (one per CPU) instead of one goroutine per call: the
// per-call cost is a slice entry.
type pacer struct {
	log    *slog.Logger
	now    func() time.Time
	shards []*pacerShard
	stop   chan struct{}
	wg     sync.WaitGroup
	mu     sync.Mutex
	next   int
	closed bool
}

type pacerShard struct {
	mu    sync.Mutex
	plays []*playback
}

func newPacer(log *slog.Logger, now func() time.Time) *pacer {
	p := &pacer{log: log, now: now, stop: make(chan struct{})}
	n := max(1, runtime.GOMAXPROCS(0))
	for range n {
		s := &pacerShard{}
		p.shards = append(p.shards, s)
		p.wg.Add(1)
		go p.run(s)
	}
	return p
}

// start sends the first frame at once (the caller hears the prompt without
// waiting for a tick) and hands the rest to a shard.
func (p *pacer) start(pb *playback) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		pb.finish(&telephony.CallError{Op: "play", Reason: telephony.ReasonShutdown})
		return
	}
	s := p.shards[p.next%len(p.shards)]
	p.next++
	p.mu.Unlock()
	if pb.p.frames() == 0 {
		pb.finish(nil)
		return
	}
	if pb.sendFrame(p.now()) {
		pb.finish(nil)
		return
	}
	s.mu.Lock()
	s.plays = append(s.plays, pb)
	s.mu.Unlock()
}

func (p *pacer) run(s *pacerShard) {
	defer p.wg.Done()
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-p.stop:
			s.mu.Lock()
			for _, pb := range s.plays {
				pb.finish(&telephony.CallError{Op: "play", Reason: telephony.ReasonShutdown})
			}
			s.plays = nil
			s.mu.Unlock()
			return
		case <-t.C:
			s.tick(p.now())
		}
	}
}

func (s *pacerShard) tick(now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	keep := s.plays[:0]
	for _, pb := range s.plays {
		if pb.finished() {
			continue
		}
		if pb.call.ctx.Err() != nil {
			pb.finish(pb.call.hungUp("play"))
			continue
		}
		if pb.sendFrame(now) {
			pb.finish(nil)
			continue
		}
		keep = append(keep, pb)
	}
	clear(s.plays[len(keep):])
	s.plays = keep
}

func (p *pacer) close() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.closed = true
	p.mu.Unlock()
	close(p.stop)
	p.wg.Wait()
}
