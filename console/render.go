package console

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"strings"
	"time"

	"hotline/telephony"
)

// shanghai is the time zone of the pages (China has no summer time).
var shanghai = time.FixedZone("CST", 8*3600)

// view is what every page template gets.
type view struct {
	Title   string
	Session *session
	Data    any
	Grafana string
}

// CSRF returns the session's token for forms.
func (v view) CSRF() string {
	if v.Session == nil {
		return ""
	}
	return v.Session.CSRF
}

// RoleLabel returns the Chinese name of the user's role.
func (v view) RoleLabel() string {
	if v.Session == nil {
		return ""
	}
	return v.Session.Role.Label()
}

var pageTitles = map[string]string{
	"login": "登录", "error": "出错了", "agent": "坐席工作台", "ticket": "工单详情", "sheet": "顾客投诉处理流程单",
	"unit": "责任单位工作台", "supervisor": "台账查询", "assessment": "单位考核", "qr": "服务质量投诉与建议", "qr_done": "提交成功",
	"panel": "",
}

func (c *Console) parseTemplates() (map[string]*template.Template, error) {
	funcs := template.FuncMap{
		"time":         c.fmtTime,
		"kind":         kindLabel,
		"status":       statusLabel,
		"stage":        stageLabel,
		"satisfaction": satisfactionLabel,
		"channel":      channelLabel,
		"line":         c.lineName,
		"unit":         c.unitName,
		"masked": func(s string) string {
			if c.cfg.MaskCaller {
				return telephony.Mask(s)
			}
			return s
		},
		"missed":   func(d Deadline) bool { return d.Missed(c.now()) },
		"dueMilli": func(t time.Time) int64 { return t.UnixMilli() },
		"dur":      func(d time.Duration) string { return d.Round(time.Second).String() },
		"isRole":   func(s *session, r string) bool { return s != nil && string(s.Role) == r },
		"oversees": func(s *session) bool { return s != nil && s.Role.Oversees() },
	}
	pages := make(map[string]*template.Template)
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return nil, fmt.Errorf("list templates: %w", err)
	}
	for _, n := range names {
		base := strings.TrimSuffix(strings.TrimPrefix(n, "templates/"), ".html")
		if base == "layout" || base == "partials" {
			continue
		}
		t, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/partials.html", n)
		if err != nil {
			return nil, fmt.Errorf("parse template %s: %w", n, err)
		}
		pages[base] = t
	}
	return pages, nil
}

// renderStatus renders a page in the layout.
func (c *Console) renderStatus(w http.ResponseWriter, r *http.Request, s *session, status int, page string, data any) {
	t, ok := c.pages[page]
	if !ok {
		c.log.Error("no template", "page", page)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	var entry string
	var v any
	if page == "panel" { // a fragment, without the layout
		entry, v = "panel", data
	} else {
		entry, v = "layout.html", view{Title: pageTitles[page], Session: s, Data: data, Grafana: c.cfg.GrafanaURL}
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, entry, v); err != nil {
		c.log.Error("render", "page", page, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

func (c *Console) render(w http.ResponseWriter, r *http.Request, s *session, page string, data any) {
	c.renderStatus(w, r, s, http.StatusOK, page, data)
}

func (c *Console) fmtTime(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.In(shanghai).Format("2006-01-02 15:04")
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func kindLabel(k string) string {
	switch k {
	case KindComplaint:
		return "投诉"
	case KindQuestion:
		return "问题"
	case KindSuggestion:
		return "建议"
	case "":
		return "未分类"
	}
	return k
}

func statusLabel(s string) string {
	switch s {
	case StatusRegistered:
		return "已登记"
	case StatusAnswered:
		return "当场答复"
	case StatusForwarded:
		return "已转部门"
	case StatusTransferred:
		return "已转单位"
	case StatusReplied:
		return "单位已回复"
	case StatusReturned:
		return "已退单"
	case StatusCalledBack:
		return "已回访"
	case StatusClosed:
		return "已办结"
	case StatusReopened:
		return "重新处理"
	case StatusMerged:
		return "已并单"
	}
	return s
}

func stageLabel(s string) string {
	switch s {
	case "transfer":
		return "转办（1个工作小时）"
	case "sheet":
		return "处理流程单（2小时）"
	case "reply", "feedback":
		return "单位反馈（2日）"
	case "callback":
		return "回访（3日）"
	}
	return s
}

func satisfactionLabel(s string) string {
	switch s {
	case "satisfied":
		return "满意"
	case "basic":
		return "基本满意"
	case "dissatisfied":
		return "不满意"
	case "":
		return "—"
	}
	return s
}

func channelLabel(s string) string {
	switch s {
	case ChannelHotline:
		return "热线"
	case ChannelQR:
		return "二维码"
	}
	return s
}
