package sip

import (
	"sync"
	"time"
)

// mixFrame is one 20 ms frame at 8 kHz.
const mixFrame = 160

// mixBacklog bounds what a member may have queued for the mixer (60 ms):
// a sender running fast loses its oldest audio rather than piling up delay.
const mixBacklog = 3 * mixFrame

// mixer joins three or more calls of a bridge: every 20 ms each member
// hears the sum of the others' latest audio. Two calls need no mixer; their
// readers forward to each other directly.
type mixer struct {
	b *Bridge

	mu    sync.Mutex
	queue map[*Call][]int16 // decoded audio from each member, oldest first

	stop chan struct{}
	done chan struct{}
}

func newMixer(b *Bridge) *mixer {
	m := &mixer{b: b, queue: make(map[*Call][]int16), stop: make(chan struct{}), done: make(chan struct{})}
	go m.run()
	return m
}

// add queues audio a member sent.
func (m *mixer) add(c *Call, pcm []int16) {
	m.mu.Lock()
	q := append(m.queue[c], pcm...)
	if over := len(q) - mixBacklog; over > 0 {
		q = q[over:]
	}
	m.queue[c] = q
	m.mu.Unlock()
}

// close stops the mixer and waits for its goroutine.
func (m *mixer) close() {
	close(m.stop)
	<-m.done
}

func (m *mixer) run() {
	defer close(m.done)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	var (
		frames  = map[*Call][]int16{}
		sum     [mixFrame]int32
		out     = make([]int16, mixFrame)
		payload []byte
	)
	for {
		select {
		case <-m.stop:
			return
		case <-tick.C:
		}
		members := m.b.snapshot()
		// Take one frame from each member; one with nothing queued is
		// silent this time.
		clear(frames)
		clear(sum[:])
		m.mu.Lock()
		for _, c := range members {
			q := m.queue[c]
			if len(q) == 0 {
				continue
			}
			n := min(len(q), mixFrame)
			f := append([]int16(nil), q[:n]...)
			m.queue[c] = q[n:]
			frames[c] = f
			for i, s := range f {
				sum[i] += int32(s)
			}
		}
		for c := range m.queue {
			if !containsCall(members, c) {
				delete(m.queue, c) // left the bridge
			}
		}
		m.mu.Unlock()
		if len(frames) == 0 {
			continue
		}
		now := m.b.e.now()
		rec, first := m.b.rec.Load(), m.b.first.Load()
		for _, c := range members {
			own := frames[c]
			for i := range out {
				v := sum[i]
				if i < len(own) {
					v -= int32(own[i]) // a member does not hear itself
				}
				out[i] = int16(max(-32768, min(32767, v)))
			}
			if rec != nil && c == first {
				// The bridge recording keeps the caller on the left and
				// everyone else, mixed, on the right.
				rec.add(chanCaller, padFrame(own), now)
				rec.add(chanService, out, now)
			}
			payload = encodeG711(payload[:0], out, c.alaw)
			c.writeAudio(payload, out, false, now)
		}
	}
}

func containsCall(cs []*Call, c *Call) bool {
	for _, x := range cs {
		if x == c {
			return true
		}
	}
	return false
}

// silentFrame is 20 ms of silence.
var silentFrame [mixFrame]int16

// padFrame returns f, or silence when the member sent nothing this time.
func padFrame(f []int16) []int16 {
	if len(f) == 0 {
		return silentFrame[:]
	}
	return f
}
