package sip

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emiago/diago"
	"github.com/emiago/diago/media"
	sipmsg "github.com/emiago/sipgo/sip"

	"hotline/telephony"
)

// errNotAnswered is returned by media operations on a call not yet
// answered.
var errNotAnswered = errors.New("call not answered")

// leg is what differs between an inbound and an outbound dialog.
type leg interface {
	answer() (*diago.DialogMedia, error)
	reject(status int, reason string) error
	bye(ctx context.Context) error
	callID() string
	// remoteGone reports whether the far end has already ended the
	// dialog (BYE or CANCEL), with the SIP cause to record.
	remoteGone() (bool, int)
}

type serverLeg struct{ d *diago.DialogServerSession }

func (l *serverLeg) answer() (*diago.DialogMedia, error) { return l.d.Answer(diago.AnswerOptions{}) }
func (l *serverLeg) reject(status int, reason string) error {
	return l.d.Respond(status, reason, nil)
}
func (l *serverLeg) bye(ctx context.Context) error { return l.d.Hangup(ctx) }
func (l *serverLeg) callID() string                { return l.d.InviteRequest.CallID().Value() }
func (l *serverLeg) remoteGone() (bool, int) {
	ctx := l.d.Context()
	return ctx.Err() != nil, sipCause(ctx)
}

type clientLeg struct {
	d   *diago.DialogClientSession
	med *diago.DialogMedia
}

func (l *clientLeg) answer() (*diago.DialogMedia, error) { return l.med, nil }
func (l *clientLeg) reject(int, string) error            { return nil }
func (l *clientLeg) bye(ctx context.Context) error {
	err := l.d.Hangup(ctx)
	return errors.Join(err, l.d.Close())
}
func (l *clientLeg) callID() string          { return l.d.InviteRequest.CallID().Value() }
func (l *clientLeg) remoteGone() (bool, int) { return l.d.Context().Err() != nil, 0 }

// Call is one call leg of the embedded engine. It implements
// telephony.Call.
type Call struct {
	e      *Engine
	info   telephony.Info
	callID string
	leg    leg
	log    *slog.Logger
	digits chan rune

	ctx    context.Context // cancelled when the call ends
	cancel context.CancelFunc

	hangMu sync.Mutex // one Hangup at a time
	// infoMu is held while a SIP INFO's digit is delivered and answered:
	// a BYE waits for that 200, so the far end never sees our BYE overtake
	// the answer to its last key.
	infoMu     sync.Mutex
	mu         sync.Mutex
	answered   bool
	answering  chan struct{} // closed when an Answer in progress returns
	ended      bool
	end        telephony.End
	med        *diago.DialogMedia
	readerDone chan struct{}

	// Set once by Answer, read-only afterwards.
	alaw    bool  // PCMA, else PCMU
	audioPT uint8 // payload type we send audio with
	hasDTMF bool
	dtmfTx  uint8 // telephone-event payload type we send
	dtmfRx  uint8 // and the one we receive
	writer  *media.RTPPacketWriter

	sendMu   sync.Mutex // one SendDigits at a time
	writeMu  sync.Mutex // one writer on the RTP stream at a time
	lastSent time.Time
	inEvent  bool // a DTMF event is being sent: audio is held back (RFC 4733 §2.5.1.2)

	playing atomic.Pointer[playback]
	rec     atomic.Pointer[recorder]
	bridge  atomic.Pointer[Bridge]

	rxPackets atomic.Uint64
	lastRx    atomic.Int64 // unix ns of the last RTP packet, or of the answer
}

var _ telephony.Call = (*Call)(nil)

func (e *Engine) newCall(info telephony.Info, l leg) *Call {
	c := &Call{e: e, info: info, leg: l, digits: make(chan rune, 64)}
	c.callID = l.callID()
	c.info.ID = c.callID
	c.ctx, c.cancel = context.WithCancel(context.Background())
	c.log = e.log.With("call", c.callID, "dir", string(info.Direction),
		telephony.MaskedNumber("caller", info.Caller), telephony.MaskedNumber("dialled", info.Dialled))
	return c
}

// Info returns the call's description.
func (c *Call) Info() telephony.Info { return c.info }

// Done is closed when the call has ended.
func (c *Call) Done() <-chan struct{} { return c.ctx.Done() }

// End tells why the call ended; valid once Done is closed.
func (c *Call) End() telephony.End {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.end
}

// Digits delivers the DTMF digits pressed, RFC 4733 and SIP INFO alike.
func (c *Call) Digits() <-chan rune { return c.digits }

func (c *Call) deliver(d rune) {
	select {
	case c.digits <- d:
		c.log.Debug("digit", "digit", string(d))
	default:
		c.log.Warn("digit dropped: nobody reads the call's digits", "digit", string(d))
	}
}

// pressed delivers a digit detected in the media and, in a bridge with
// bridge_dtmf on, sends it on to the other party.
func (c *Call) pressed(d rune) {
	c.deliver(d)
	if !c.e.cfg.BridgeDTMF {
		return
	}
	if b := c.bridge.Load(); b != nil {
		if peer := b.peerOf(c); peer != nil {
			go func() { _ = peer.SendDigits(peer.ctx, string(d)) }()
		}
	}
}

func (c *Call) hungUp(op string) error {
	return &telephony.CallError{Op: op, Reason: telephony.ReasonHungUp}
}

// Answer answers an inbound call and starts its media. It blocks until
// the caller's ACK (or the call ends).
func (c *Call) Answer(ctx context.Context) error {
	c.mu.Lock()
	if c.ended {
		c.mu.Unlock()
		return c.hungUp("answer")
	}
	if c.answered {
		c.mu.Unlock()
		return nil
	}
	if w := c.answering; w != nil {
		c.mu.Unlock()
		select {
		case <-w:
			return c.Answer(ctx)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	w := make(chan struct{})
	c.answering = w
	c.mu.Unlock()
	defer close(w)

	med, err := c.leg.answer()
	if err != nil {
		c.mu.Lock()
		c.answering = nil
		ended := c.ended
		c.mu.Unlock()
		// A BYE or CANCEL that overtakes the ACK fails the answer before
		// the dialog's end reaches remoteEnded (it runs on its own
		// goroutine): the dialog itself already knows, so record the
		// caller's hang-up here rather than a failure of ours.
		if gone, cause := c.leg.remoteGone(); gone {
			c.remoteEnded(cause)
			ended = true
		}
		if ended || c.ctx.Err() != nil {
			return c.hungUp("answer")
		}
		return &telephony.CallError{Op: "answer", Reason: telephony.ReasonError, Err: err}
	}
	if err := c.startMedia(med); err != nil {
		_ = med.Close()
		return &telephony.CallError{Op: "answer", Reason: telephony.ReasonError, Err: err}
	}
	return nil
}

// startMedia reads the negotiated codecs and starts the call's reader.
func (c *Call) startMedia(med *diago.DialogMedia) error {
	ms := med.MediaSession()
	if ms == nil || med.RTPPacketReader == nil || med.RTPPacketWriter == nil {
		return errors.New("no media session")
	}
	audio := media.CodecAudioFromSession(ms)
	switch audio.PayloadType {
	case 0, 8:
	default:
		return fmt.Errorf("negotiated codec %s is not G.711", audio.Name)
	}
	c.alaw = audio.PayloadType == 8
	c.audioPT = audio.PayloadType
	for _, codec := range ms.CommonCodecs() {
		if codec.Matches(media.CodecTelephoneEvent8000) {
			c.hasDTMF, c.dtmfTx, c.dtmfRx = true, codec.PayloadType, codec.PayloadTypeRecv()
			break
		}
	}
	c.writer = med.RTPPacketWriter
	c.lastRx.Store(c.e.now().UnixNano())
	done := make(chan struct{})
	c.mu.Lock()
	if c.ended {
		c.mu.Unlock()
		return c.hungUp("answer")
	}
	c.med = med
	c.answered = true
	c.answering = nil
	c.readerDone = done
	c.mu.Unlock()
	go c.readLoop(med.RTPPacketReader, done)
	c.log.Info("call answered", "codec", audio.Name, "dtmf", c.hasDTMF)
	return nil
}

// readLoop is the call's one reader of RTP: it decodes DTMF with the
// tolerant detector, feeds recordings and forwards audio into a bridge.
func (c *Call) readLoop(r *media.RTPPacketReader, done chan struct{}) {
	defer close(done)
	buf := make([]byte, media.RTPBufSize)
	var det dtmfDetector
	var pcm []int16
	var fwd []byte
	for {
		n, err := r.Read(buf)
		if err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) || c.ctx.Err() != nil {
				return
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			c.log.Debug("rtp read", "err", err)
			continue
		}
		if n == 0 {
			continue
		}
		hdr := r.PacketHeader
		now := c.e.now()
		payload := buf[:n]
		c.lastRx.Store(now.UnixNano())
		if c.hasDTMF && hdr.PayloadType == c.dtmfRx {
			if d := det.packet(hdr.Timestamp, payload, now); d != 0 {
				c.pressed(d)
			}
			continue
		}
		if d := det.audio(now); d != 0 {
			c.pressed(d)
		}
		if hdr.PayloadType != 0 && hdr.PayloadType != 8 {
			continue // comfort noise and the like
		}
		c.rxPackets.Add(1)
		alaw := hdr.PayloadType == 8
		rec := c.rec.Load()
		b := c.bridge.Load()
		var peer *Call
		var mix *mixer
		var brec *recorder
		if b != nil {
			peer, mix = b.route(c)
			brec = b.rec.Load()
		}
		if rec == nil && peer == nil && mix == nil && brec == nil {
			continue
		}
		pcm = decodeG711(pcm[:0], payload, alaw)
		if rec != nil {
			rec.add(chanCaller, pcm, now)
		}
		if brec != nil && mix == nil {
			// With three or more members the mixer records the bridge.
			brec.add(b.channelOf(c), pcm, now)
		}
		if mix != nil {
			mix.add(c, pcm)
		}
		if peer != nil {
			out := payload
			if peer.alaw != alaw {
				fwd = encodeG711(fwd[:0], pcm, peer.alaw)
				out = fwd
			}
			peer.writeAudio(out, pcm, false, now)
		}
	}
}

// writeAudio sends one frame of audio in the call's codec; pcm is the
// same audio for the service channel of a recording.
func (c *Call) writeAudio(payload []byte, pcm []int16, marker bool, now time.Time) {
	c.writeMu.Lock()
	if c.inEvent {
		c.writeMu.Unlock()
		return
	}
	if !c.lastSent.IsZero() {
		// After a pause in sending, move the RTP clock on by the silence so
		// the far end plays the next audio in time.
		if gap := now.Sub(c.lastSent); gap > 60*time.Millisecond {
			c.writer.DelayTimestamp(uint32(gap.Seconds()*8000) - uint32(len(payload)))
			marker = true
		}
	}
	_, err := c.writer.WriteSamples(payload, uint32(len(payload)), marker, c.audioPT)
	c.lastSent = now
	c.writeMu.Unlock()
	if err != nil {
		return
	}
	if rec := c.rec.Load(); rec != nil && pcm != nil {
		rec.add(chanService, pcm, now)
	}
}

// Play starts a prompt from the prompt directory, paced in real time.
func (c *Call) Play(ctx context.Context, name string) (telephony.Playback, error) {
	p, ok := c.e.prompts[name]
	if !ok {
		return nil, fmt.Errorf("play %q: %w", name, ErrUnknownPrompt)
	}
	if err := c.mediaReady("play"); err != nil {
		return nil, err
	}
	pb := &playback{call: c, p: p, done: make(chan struct{})}
	if old := c.playing.Swap(pb); old != nil {
		old.finish(nil)
	}
	c.e.pacer.start(pb)
	return pb, nil
}

func (c *Call) mediaReady(op string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ended {
		return c.hungUp(op)
	}
	if !c.answered {
		return fmt.Errorf("%s: %w", op, errNotAnswered)
	}
	return nil
}

// SendDigits sends DTMF per RFC 4733. A ',' in digits pauses half a second.
func (c *Call) SendDigits(ctx context.Context, digits string) error {
	if err := c.mediaReady("send digits"); err != nil {
		return err
	}
	if !c.hasDTMF {
		return errors.New("send digits: telephone-event not negotiated")
	}
	c.sendMu.Lock()
	defer c.sendMu.Unlock()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	defer func() {
		c.writeMu.Lock()
		c.inEvent = false
		c.writeMu.Unlock()
	}()
	wait := func(n int) error {
		for range n {
			select {
			case <-tick.C:
			case <-c.ctx.Done():
				return c.hungUp("send digits")
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		return nil
	}
	for _, d := range digits {
		if d == ',' {
			if err := wait(25); err != nil {
				return err
			}
			continue
		}
		ev, ok := eventOf(d)
		if !ok {
			return fmt.Errorf("send digits: %q is not a DTMF key", d)
		}
		// Five 20 ms updates, then the end packet three times, all with the
		// event's start timestamp.
		const updates = 5
		for i := 1; i <= updates+3; i++ {
			if err := wait(1); err != nil {
				return err
			}
			end := i > updates
			dur := uint16(160 * min(i, updates))
			c.writeMu.Lock()
			c.inEvent = true
			_, err := c.writer.WriteSamples(eventPayload(ev, end, 10, dur), 0, i == 1, c.dtmfTx)
			if i == updates+3 {
				c.writer.DelayTimestamp(160 * updates)
				c.inEvent = false
			}
			c.lastSent = c.e.now()
			c.writeMu.Unlock()
			if err != nil {
				return c.hungUp("send digits")
			}
		}
		if err := wait(3); err != nil { // gap between keys
			return err
		}
	}
	return nil
}

// Record records the call to <recording dir>/<name>.wav, stereo: left the
// caller, right the service. A second Record stops the first.
func (c *Call) Record(ctx context.Context, name string) (telephony.Recording, error) {
	path, err := c.e.recordingPath(name)
	if err != nil {
		return nil, err
	}
	if err := c.mediaReady("record"); err != nil {
		return nil, err
	}
	rec, err := newRecorder(path, name, 2, c.e.now)
	if err != nil {
		return nil, fmt.Errorf("record %s: %w", name, err)
	}
	if old := c.rec.Swap(rec); old != nil {
		_, _ = old.Stop(ctx)
	}
	// The call may have ended meanwhile: the recording is then closed, and
	// complete, at once.
	if c.ctx.Err() != nil {
		_, _ = rec.Stop(ctx)
	}
	c.log.Info("recording", "name", name)
	return rec, nil
}

// SaveReceived records only what the far end sends, mono, to path (any
// path, outside the recording directory): `hotline dial --save`.
func (c *Call) SaveReceived(ctx context.Context, path string) (telephony.Recording, error) {
	if err := c.mediaReady("save"); err != nil {
		return nil, err
	}
	rec, err := newRecorder(path, filepath.Base(path), 1, c.e.now)
	if err != nil {
		return nil, fmt.Errorf("save %s: %w", path, err)
	}
	if old := c.rec.Swap(rec); old != nil {
		_, _ = old.Stop(ctx)
	}
	return rec, nil
}

func (e *Engine) recordingPath(name string) (string, error) {
	if name == "" || name == "." || name == ".." || strings.ContainsAny(name, `/\`) || strings.ContainsRune(name, 0) {
		return "", fmt.Errorf("record %q: %w", name, errRecordingName)
	}
	return filepath.Join(e.cfg.RecordingDir, name+".wav"), nil
}

// Hangup ends the call. An inbound call not yet answered is refused with
// a status that fits the reason: busy 486, rejected 603, unreachable 404,
// shutdown 503, otherwise 480.
func (c *Call) Hangup(ctx context.Context, reason telephony.Reason) error {
	c.hangMu.Lock()
	defer c.hangMu.Unlock()
	c.mu.Lock()
	if c.ended {
		c.mu.Unlock()
		return nil
	}
	answered := c.answered
	c.mu.Unlock()
	// Record the end first: the far end's answer to our BYE must not make
	// it look as if it hung up.
	if !answered && c.info.Direction == telephony.Inbound {
		status, text := rejection(reason)
		c.finish(telephony.End{Reason: reason, By: "local", Cause: status})
		if err := c.leg.reject(status, text); err != nil {
			return fmt.Errorf("hang up: %w", err)
		}
		return nil
	}
	c.finish(telephony.End{Reason: reason, By: "local"})
	c.infoMu.Lock() // an INFO being answered is answered first
	c.infoMu.Unlock()
	if err := c.leg.bye(ctx); err != nil {
		return fmt.Errorf("hang up: %w", err)
	}
	return nil
}

func rejection(r telephony.Reason) (int, string) {
	switch r {
	case telephony.ReasonBusy:
		return sipmsg.StatusBusyHere, "Busy Here"
	case telephony.ReasonRejected:
		return sipmsg.StatusGlobalDecline, "Decline"
	case telephony.ReasonUnreachable:
		return sipmsg.StatusNotFound, "Not Found"
	case telephony.ReasonShutdown:
		return sipmsg.StatusServiceUnavailable, "Service Unavailable"
	default:
		return sipmsg.StatusTemporarilyUnavailable, "Temporarily Unavailable"
	}
}

// remoteEnded is called when the dialog ended from the far side (BYE or
// CANCEL) or the transaction failed.
func (c *Call) remoteEnded(cause int) {
	c.finish(telephony.End{Reason: telephony.ReasonHungUp, By: "remote", Cause: cause})
}

// finish records how the call ended, once, and releases its media: the
// prompt stops, recordings are closed complete, the bridge is told.
func (c *Call) finish(end telephony.End) {
	c.mu.Lock()
	if c.ended {
		c.mu.Unlock()
		return
	}
	c.ended = true
	end.At = c.e.now()
	c.end = end
	med := c.med
	c.mu.Unlock()
	c.cancel()
	if pb := c.playing.Load(); pb != nil {
		pb.finish(c.hungUp("play"))
	}
	if rec := c.rec.Load(); rec != nil {
		if _, err := rec.Stop(context.Background()); err != nil {
			c.log.Error("recording not complete", "err", err)
		}
	}
	if b := c.bridge.Load(); b != nil {
		b.memberEnded(c)
	}
	if med != nil {
		_ = med.Close() // ends readLoop
	}
}

// wait returns once the call's reader has stopped.
func (c *Call) wait() {
	c.mu.Lock()
	done := c.readerDone
	c.mu.Unlock()
	if done != nil {
		<-done
	}
}
