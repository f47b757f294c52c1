package console

import (
	"net/http"
	"regexp"
)

// contactPattern accepts a phone number (digits, spaces, + and -) or an
// e-mail address.
var contactPattern = regexp.MustCompile(`^(\+?[0-9][0-9 \-]{4,19}|[^@\s]{1,40}@[^@\s]{1,40}\.[^@\s]{1,10})$`)

type qrView struct {
	Name, Contact, Kind, Content string
	Error                        string
}

// qrPage is the public complaint form behind the service-quality QR code.
func (c *Console) qrPage(w http.ResponseWriter, r *http.Request) {
	c.render(w, r, nil, "qr", qrView{Kind: KindComplaint})
}

// qrSubmit creates a ticket with channel=qr. It needs no login; it is
// rate limited per client, and a filled honeypot field (invisible to
// people) is thanked and dropped.
func (c *Console) qrSubmit(w http.ResponseWriter, r *http.Request) {
	ip := clientAddr(r)
	if !c.qrLimit.Allow(ip) {
		c.log.Warn("qr form rate limited", "client", ip)
		c.renderStatus(w, r, nil, http.StatusTooManyRequests, "qr", qrView{Error: "提交过于频繁，请稍后再试，或拨打 96596 热线。"})
		return
	}
	if err := parseForm(w, r); err != nil {
		status, msg := c.classify(err)
		c.renderStatus(w, r, nil, status, "qr", qrView{Error: msg})
		return
	}
	v := qrView{Kind: r.PostFormValue("kind")}
	if r.PostFormValue("website") != "" {
		c.log.Info("qr form honeypot filled", "client", ip)
		c.render(w, r, nil, "qr_done", "")
		return
	}
	var err error
	if v.Name, err = field(r, "name", "姓名", maxName, false); err == nil {
		if v.Contact, err = field(r, "contact", "联系方式", maxContact, true); err == nil {
			if v.Content, err = field(r, "content", "内容", maxContent, true); err == nil {
				if !contactPattern.MatchString(v.Contact) {
					err = badRequest("联系方式应为电话号码或电子邮箱。")
				} else if v.Kind != KindComplaint && v.Kind != KindQuestion && v.Kind != KindSuggestion {
					err = badRequest("请选择类别：投诉、问题或建议。")
				}
			}
		}
	}
	if err != nil {
		status, msg := c.classify(err)
		v.Error = msg
		c.renderStatus(w, r, nil, status, "qr", v)
		return
	}
	t, err := c.ledger.CreateQR(r.Context(), QRSubmission{CallerName: v.Name, Contact: v.Contact, Kind: v.Kind, Content: v.Content, At: c.now()})
	if err != nil {
		status, msg := c.classify(err)
		if status == http.StatusInternalServerError {
			c.log.Error("qr ticket", "err", err)
		}
		v.Error = msg
		c.renderStatus(w, r, nil, status, "qr", v)
		return
	}
	c.log.Info("qr ticket", "ticket", t.ID)
	c.render(w, r, nil, "qr_done", t.Number)
}
