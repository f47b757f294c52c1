package console

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"hotline/console/auth"
)

// Bounds of the form fields, in characters.
const (
	maxName    = 50
	maxContact = 50
	maxContent = 2000
	maxReply   = 2000
	maxReason  = 500
)

// field reads a form field, trimmed, and checks its length and that it is
// text (valid UTF-8, no control characters but line breaks and tabs).
func field(r *http.Request, name, label string, max int, required bool) (string, error) {
	v := strings.TrimSpace(r.PostFormValue(name))
	if !utf8.ValidString(v) {
		return "", badRequest("“%s”含有无效字符。", label)
	}
	if strings.IndexFunc(v, func(c rune) bool { return unicode.IsControl(c) && c != '\n' && c != '\r' && c != '\t' }) >= 0 {
		return "", badRequest("“%s”含有控制字符。", label)
	}
	if n := utf8.RuneCountInString(v); n > max {
		return "", badRequest("“%s”过长：最多 %d 个字，现有 %d 个字。", label, max, n)
	}
	if required && v == "" {
		return "", badRequest("请填写“%s”。", label)
	}
	return v, nil
}

func parseForm(w http.ResponseWriter, r *http.Request) error {
	r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	if err := r.ParseForm(); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return &userError{status: http.StatusRequestEntityTooLarge, msg: "提交的内容过大。"}
		}
		return badRequest("表单无法解析。")
	}
	return nil
}

func ticketID(r *http.Request) (int64, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, &userError{status: http.StatusNotFound, msg: "工单编号无效。"}
	}
	return id, nil
}

// visibleTicket loads a ticket the session may read: a unit user only its
// unit's; others any. A ticket of another unit is "not found".
func (c *Console) visibleTicket(r *http.Request, s *session) (Ticket, error) {
	id, err := ticketID(r)
	if err != nil {
		return Ticket{}, err
	}
	t, err := c.ledger.Ticket(r.Context(), id)
	if err != nil {
		return Ticket{}, fmt.Errorf("read ticket %d: %w", id, err)
	}
	if s.Role == auth.RoleUnit && (s.Unit == "" || t.Unit != s.Unit) {
		c.log.Warn("unit user refused a ticket of another unit", "user", s.User, "unit", s.Unit, "ticket", id)
		return Ticket{}, fmt.Errorf("ticket %d: %w", id, ErrNotFound)
	}
	return t, nil
}

// back redirects after a form post: to next when it is a local path,
// else to the ticket.
func back(w http.ResponseWriter, r *http.Request, id int64) {
	next := safeNext(r.PostFormValue("next"))
	if next == "" {
		next = "/tickets/" + strconv.FormatInt(id, 10)
	}
	http.Redirect(w, r, next, http.StatusSeeOther)
}

type ticketView struct {
	T         Ticket
	Units     []Unit
	Recording bool // pause/resume available
	Next      string
	CSRF      string
}

func (c *Console) ticketView(r *http.Request, s *session, t Ticket, next string) (ticketView, error) {
	units, err := c.ledger.Units(r.Context())
	if err != nil {
		return ticketView{}, fmt.Errorf("list units: %w", err)
	}
	return ticketView{T: t, Units: units, Recording: c.recording != nil, Next: next, CSRF: s.CSRF}, nil
}

func (c *Console) agentPage(w http.ResponseWriter, r *http.Request, s *session) {
	data := struct {
		Panel *ticketView
	}{}
	if v := r.URL.Query().Get("t"); v != "" {
		id, err := strconv.ParseInt(v, 10, 64)
		if err == nil {
			t, err := c.ledger.Ticket(r.Context(), id)
			if err == nil {
				tv, err := c.ticketView(r, s, t, "/agent?t="+v)
				if err == nil {
					data.Panel = &tv
				}
			}
		}
	}
	c.render(w, r, s, "agent", data)
}

// agentPanel is the work panel of a ticket, an HTML fragment the agent
// page loads on a screen-pop.
func (c *Console) agentPanel(w http.ResponseWriter, r *http.Request, s *session) {
	t, err := c.visibleTicket(r, s)
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	tv, err := c.ticketView(r, s, t, fmt.Sprintf("/agent?t=%d", t.ID))
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	c.render(w, r, s, "panel", tv)
}

func (c *Console) ticketPage(w http.ResponseWriter, r *http.Request, s *session) {
	t, err := c.visibleTicket(r, s)
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	tv, err := c.ticketView(r, s, t, "")
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	c.render(w, r, s, "ticket", tv)
}

func (c *Console) sheetPage(w http.ResponseWriter, r *http.Request, s *session) {
	t, err := c.visibleTicket(r, s)
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	if t.Sheet == nil {
		c.fail(w, r, s, &userError{status: http.StatusNotFound, msg: "该工单尚未签发处理流程单。"})
		return
	}
	c.render(w, r, s, "sheet", t)
}

func (c *Console) register(w http.ResponseWriter, r *http.Request, s *session) {
	id, err := c.postTicket(w, r)
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	var reg Registration
	if reg.CallerName, err = field(r, "name", "姓名", maxName, false); err == nil {
		if reg.Contact, err = field(r, "contact", "联系方式", maxContact, false); err == nil {
			if reg.Content, err = field(r, "content", "内容", maxContent, true); err == nil {
				reg.Kind = r.PostFormValue("kind")
				if reg.Kind != KindComplaint && reg.Kind != KindQuestion && reg.Kind != KindSuggestion {
					err = badRequest("请选择分类：投诉、问题或建议。")
				}
			}
		}
	}
	if err == nil {
		err = c.ledger.Register(r.Context(), id, reg, s.User)
	}
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	back(w, r, id)
}

func (c *Console) answer(w http.ResponseWriter, r *http.Request, s *session) {
	id, err := c.postTicket(w, r)
	if err == nil {
		var text string
		if text, err = field(r, "answer", "答复内容", maxReply, true); err == nil {
			err = c.ledger.AnswerAndClose(r.Context(), id, text, s.User)
		}
	}
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	back(w, r, id)
}

func (c *Console) forward(w http.ResponseWriter, r *http.Request, s *session) {
	id, err := c.postTicket(w, r)
	if err == nil {
		var note string
		unit := r.PostFormValue("unit")
		if unit == "" {
			err = badRequest("请选择转办的部门。")
		} else if note, err = field(r, "note", "转办说明", maxReason, false); err == nil {
			err = c.ledger.Forward(r.Context(), id, unit, note, s.User)
		}
	}
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	back(w, r, id)
}

func (c *Console) issueSheet(w http.ResponseWriter, r *http.Request, s *session) {
	id, err := c.postTicket(w, r)
	if err == nil {
		_, err = c.ledger.IssueSheet(r.Context(), id, s.User)
	}
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	http.Redirect(w, r, fmt.Sprintf("/tickets/%d/sheet", id), http.StatusSeeOther)
}

func (c *Console) pauseRecording(w http.ResponseWriter, r *http.Request, s *session) {
	id, err := c.postTicket(w, r)
	if err == nil {
		if c.recording == nil {
			err = &userError{status: http.StatusNotImplemented, msg: "当前后端不支持暂停录音。"}
		} else {
			err = c.recording.PauseRecording(r.Context(), id, r.PostFormValue("pause") == "1")
		}
	}
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	back(w, r, id)
}

// postTicket parses a form post on a ticket.
func (c *Console) postTicket(w http.ResponseWriter, r *http.Request) (int64, error) {
	if err := parseForm(w, r); err != nil {
		return 0, err
	}
	return ticketID(r)
}

func (c *Console) unitPage(w http.ResponseWriter, r *http.Request, s *session) {
	list, err := c.ledger.UnitTickets(r.Context(), s.Unit)
	if err != nil {
		c.fail(w, r, s, fmt.Errorf("unit tickets: %w", err))
		return
	}
	c.render(w, r, s, "unit", struct {
		Unit    string
		Tickets []Summary
		Now     time.Time
	}{s.Unit, list, c.now()})
}

func (c *Console) reply(w http.ResponseWriter, r *http.Request, s *session) {
	id, err := c.postTicket(w, r)
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	rep := Reply{Unit: s.Unit, By: s.User, At: c.now(), CCTVPreserved: r.PostFormValue("cctv") == "1", NoCompensation: r.PostFormValue("attest") == "1"}
	rep.Result, err = field(r, "result", "处理结果", maxReply, true)
	if err == nil && !rep.NoCompensation {
		err = badRequest("请确认“未以金钱等方式换取顾客满意”的承诺（第八条）。")
	}
	if err == nil {
		if _, err = c.visibleTicket(r, s); err == nil {
			_, err = c.ledger.Reply(r.Context(), id, s.Unit, rep)
		}
	}
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	back(w, r, id)
}

func (c *Console) returnTicket(w http.ResponseWriter, r *http.Request, s *session) {
	id, err := c.postTicket(w, r)
	if err == nil {
		var reason string
		if reason, err = field(r, "reason", "退单原因", maxReason, true); err == nil {
			if _, err = c.visibleTicket(r, s); err == nil {
				err = c.ledger.Return(r.Context(), id, s.Unit, reason, s.User)
			}
		}
	}
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	http.Redirect(w, r, "/unit", http.StatusSeeOther)
}

// parseDay reads a yyyy-mm-dd date in Shanghai time.
func parseDay(v string) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	t, err := time.ParseInLocation("2006-01-02", v, shanghai)
	if err != nil {
		return time.Time{}, badRequest("日期格式应为 年-月-日，例如 2026-11-29。")
	}
	return t, nil
}

func (c *Console) supervisorPage(w http.ResponseWriter, r *http.Request, s *session) {
	q := r.URL.Query()
	f := Filter{Line: q.Get("line"), Unit: q.Get("unit"), Kind: q.Get("kind"), Status: q.Get("status"),
		Channel: q.Get("channel"), Satisfaction: q.Get("satisfaction"), Overdue: q.Get("overdue") == "1",
		Text: strings.TrimSpace(q.Get("q")), Limit: 200}
	var err error
	if f.From, err = parseDay(q.Get("from")); err == nil {
		if f.To, err = parseDay(q.Get("to")); err == nil && !f.To.IsZero() {
			f.To = f.To.AddDate(0, 0, 1)
		}
	}
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	if utf8.RuneCountInString(f.Text) > 100 {
		c.fail(w, r, s, badRequest("查询文字过长。"))
		return
	}
	list, err := c.ledger.Search(r.Context(), f)
	if err != nil {
		c.fail(w, r, s, fmt.Errorf("search: %w", err))
		return
	}
	units, err := c.ledger.Units(r.Context())
	if err != nil {
		c.fail(w, r, s, fmt.Errorf("list units: %w", err))
		return
	}
	month := c.now().In(shanghai).AddDate(0, -1, 0).Format("2006-01")
	c.render(w, r, s, "supervisor", struct {
		Q       map[string]string
		Units   []Unit
		Lines   map[string]string
		Tickets []Summary
		Month   string
	}{flatten(q), units, c.cfg.LineNames, list, month})
}

func flatten(q map[string][]string) map[string]string {
	m := make(map[string]string, len(q))
	for k, v := range q {
		if len(v) > 0 {
			m[k] = v[0]
		}
	}
	return m
}

func parseMonth(v string) (time.Time, error) {
	t, err := time.ParseInLocation("2006-01", v, shanghai)
	if err != nil {
		return time.Time{}, badRequest("月份格式应为 年-月，例如 2026-11。")
	}
	return t, nil
}

func (c *Console) monthlyReport(w http.ResponseWriter, r *http.Request, s *session) {
	month, err := parseMonth(r.URL.Query().Get("month"))
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	format := r.URL.Query().Get("format")
	switch format {
	case "":
		format = "html"
	case "html", "csv", "xlsx":
	default:
		c.fail(w, r, s, badRequest("报表格式只能是 html、csv 或 xlsx。"))
		return
	}
	rep, err := c.ledger.MonthlyReport(r.Context(), month, format)
	if err != nil {
		c.fail(w, r, s, fmt.Errorf("monthly report: %w", err))
		return
	}
	w.Header().Set("Content-Type", rep.ContentType)
	if format != "html" {
		w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", rep.Name))
	} else {
		// The ledger's HTML report is a document of its own: no scripts.
		w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
	}
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(rep.Body)
}

func (c *Console) assessmentPage(w http.ResponseWriter, r *http.Request, s *session) {
	v := r.URL.Query().Get("month")
	if v == "" {
		v = c.now().In(shanghai).AddDate(0, -1, 0).Format("2006-01")
	}
	month, err := parseMonth(v)
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	scores, err := c.ledger.Assessment(r.Context(), month)
	if err != nil {
		c.fail(w, r, s, fmt.Errorf("assessment: %w", err))
		return
	}
	c.render(w, r, s, "assessment", struct {
		Month  string
		Scores []UnitScore
	}{v, scores})
}

// recordingFile plays a recording in the browser, for those who may read
// its ticket; every access is written to the ticket's timeline.
func (c *Console) recordingFile(w http.ResponseWriter, r *http.Request, s *session) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		c.fail(w, r, s, &userError{status: http.StatusNotFound, msg: "录音编号无效。"})
		return
	}
	rec, err := c.ledger.Recording(r.Context(), id)
	if err != nil {
		c.fail(w, r, s, fmt.Errorf("recording %d: %w", id, err))
		return
	}
	defer rec.Content.Close()
	if s.Role == auth.RoleUnit && (s.Unit == "" || rec.Unit != s.Unit) {
		c.log.Warn("unit user refused a recording of another unit", "user", s.User, "unit", s.Unit, "recording", id)
		c.fail(w, r, s, fmt.Errorf("recording %d: %w", id, ErrNotFound))
		return
	}
	// One access per listening, not per range request of the player.
	if rng := r.Header.Get("Range"); rng == "" || strings.HasPrefix(rng, "bytes=0-") {
		if err := c.ledger.LogRecordingAccess(r.Context(), id, s.User, c.now()); err != nil {
			c.fail(w, r, s, fmt.Errorf("log access to recording %d: %w", id, err))
			return
		}
		c.log.Info("recording played", "user", s.User, "recording", id, "ticket", rec.Ticket)
	}
	w.Header().Set("Content-Type", "audio/wav")
	w.Header().Set("Cache-Control", "no-store")
	http.ServeContent(w, r, rec.Name, rec.Modified, rec.Content)
}

var _ io.ReadSeekCloser = (*nopSeekCloser)(nil)

// nopSeekCloser gives a bytes.Reader a Close, for ledgers holding audio in memory.
type nopSeekCloser struct{ io.ReadSeeker }

func (nopSeekCloser) Close() error { return nil }

// NopCloser wraps an in-memory recording for RecordingFile.Content.
func NopCloser(r io.ReadSeeker) io.ReadSeekCloser { return nopSeekCloser{r} }
