package notify

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/hotline-desk/hotline/jobs"
	"github.com/hotline-desk/hotline/ticketing"
)

// JobRobot is the kind of the durable job that posts one message to one
// IM robot (notify.wecom / notify.dingtalk / notify.feishu).
const JobRobot = "notify.robot"

// Vendors of group robots.
const (
	WeCom    = "wecom"    // 企业微信群机器人
	DingTalk = "dingtalk" // 钉钉自定义机器人
	Feishu   = "feishu"   // 飞书自定义机器人
)

// Robot is one configured group robot.
type Robot struct {
	Vendor  string
	URL     string // the webhook URL, with its key or access token
	Secret  string // the signing secret (DingTalk 加签, Feishu 签名校验); may be empty
	Enabled bool
}

// RobotMessage is the argument of a JobRobot job.
type RobotMessage struct {
	Vendor string `json:"vendor"`
	Title  string `json:"title"`
	Text   string `json:"text"`
}

// RobotJob makes the job that posts m.
func RobotJob(ticketID int64, m RobotMessage) (ticketing.JobSpec, error) {
	b, err := json.Marshal(m)
	if err != nil {
		return ticketing.JobSpec{}, fmt.Errorf("robot message: %w", err)
	}
	return ticketing.JobSpec{Kind: JobRobot, TicketID: ticketID, Args: b, MaxAttempts: 20}, nil
}

// RobotMonitor counts robot posts (metrics.Process).
type RobotMonitor interface {
	Notified(channel, result string)
}

// Robots posts robot jobs to the vendors' webhooks.
type Robots struct {
	robots map[string]Robot
	client *http.Client
	now    func() time.Time
	mon    RobotMonitor
	log    *slog.Logger
}

func NewRobots(robots []Robot, client *http.Client, mon RobotMonitor, log *slog.Logger) *Robots {
	if client == nil {
		client = &http.Client{Timeout: 15 * time.Second}
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	r := &Robots{robots: map[string]Robot{}, client: client, now: time.Now, mon: mon, log: log}
	for _, rb := range robots {
		if rb.Enabled && rb.URL != "" {
			r.robots[rb.Vendor] = rb
		}
	}
	return r
}

// Vendors lists the robots configured.
func (r *Robots) Vendors() []string {
	var out []string
	for _, v := range []string{WeCom, DingTalk, Feishu} {
		if _, ok := r.robots[v]; ok {
			out = append(out, v)
		}
	}
	return out
}

// VendorError is a robot's refusal: the vendor's error code and message.
// Codes that name a bad request or a bad signature are permanent.
type VendorError struct {
	Vendor  string
	Status  int
	Code    int
	Message string
}

func (e *VendorError) Error() string {
	return fmt.Sprintf("%s robot: HTTP %d, code %d: %s", e.Vendor, e.Status, e.Code, e.Message)
}

// Temporary reports whether a retry may succeed: server errors and rate
// limits, not bad signatures, keys or payloads.
func (e *VendorError) Temporary() bool {
	if e.Status >= 500 || e.Status == http.StatusTooManyRequests {
		return true
	}
	switch {
	case e.Vendor == WeCom && e.Code == 45009, // 接口调用超过限制
		e.Vendor == DingTalk && e.Code == 130101, // 发送太快
		e.Vendor == Feishu && e.Code == 11232:    // 触发频控
		return true
	}
	return false
}

// Work posts one robot message.
func (r *Robots) Work(ctx context.Context, j *ticketing.Job) error {
	var m RobotMessage
	if err := json.Unmarshal(j.Args, &m); err != nil {
		return jobs.Permanent(fmt.Errorf("robot job %d: bad arguments: %w", j.ID, err))
	}
	rb, ok := r.robots[m.Vendor]
	if !ok {
		r.notified(m.Vendor, "unconfigured")
		return jobs.Permanent(fmt.Errorf("the %s robot is not configured", m.Vendor))
	}
	err := r.Post(ctx, rb, m)
	var ve *VendorError
	switch {
	case err == nil:
		r.notified(m.Vendor, "sent")
		return nil
	case errors.As(err, &ve) && !ve.Temporary():
		r.notified(m.Vendor, "rejected")
		return jobs.Permanent(err)
	default:
		r.notified(m.Vendor, "retry")
		return err
	}
}

func (r *Robots) notified(channel, result string) {
	if r.mon != nil {
		r.mon.Notified(channel, result)
	}
}

// Post sends m to the robot in its vendor's published format.
func (r *Robots) Post(ctx context.Context, rb Robot, m RobotMessage) error {
	target, body, err := Payload(rb, m, r.now())
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("%s robot: %w", rb.Vendor, err)
	}
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	resp, err := r.client.Do(req)
	if err != nil {
		return fmt.Errorf("%s robot: %w", rb.Vendor, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	// WeCom and DingTalk answer {"errcode":0,"errmsg":"ok"}; Feishu
	// {"code":0,"msg":"success"} (older: StatusCode/StatusMessage).
	var ans struct {
		ErrCode    *int   `json:"errcode"`
		ErrMsg     string `json:"errmsg"`
		Code       *int   `json:"code"`
		Msg        string `json:"msg"`
		StatusCode *int   `json:"StatusCode"`
	}
	_ = json.Unmarshal(raw, &ans)
	code, msg := 0, ans.ErrMsg
	switch {
	case ans.ErrCode != nil:
		code = *ans.ErrCode
	case ans.Code != nil:
		code, msg = *ans.Code, ans.Msg
	case ans.StatusCode != nil:
		code = *ans.StatusCode
	}
	if resp.StatusCode != http.StatusOK || code != 0 {
		if msg == "" {
			msg = string(bytes.TrimSpace(raw))
		}
		return &VendorError{Vendor: rb.Vendor, Status: resp.StatusCode, Code: code, Message: msg}
	}
	return nil
}

// Payload builds the request a robot expects: the target URL (DingTalk
// signs in the query) and the JSON body (Feishu signs in the body).
//
//   - WeCom group robot: {"msgtype":"markdown","markdown":{"content":…}};
//     the key is in the URL, there is no signature.
//   - DingTalk: {"msgtype":"markdown","markdown":{"title":…,"text":…}};
//     with a secret, &timestamp=ms&sign=urlencode(base64(HMAC-SHA256(key
//     secret, timestamp+"\n"+secret))).
//   - Feishu: {"msg_type":"text","content":{"text":…}}; with a secret,
//     "timestamp" (seconds) and "sign" = base64(HMAC-SHA256(key
//     timestamp+"\n"+secret, empty message)) in the body.
func Payload(rb Robot, m RobotMessage, now time.Time) (string, []byte, error) {
	var v any
	target := rb.URL
	switch rb.Vendor {
	case WeCom:
		v = map[string]any{"msgtype": "markdown", "markdown": map[string]string{"content": "**" + m.Title + "**\n" + m.Text}}
	case DingTalk:
		v = map[string]any{"msgtype": "markdown", "markdown": map[string]string{"title": m.Title, "text": "#### " + m.Title + "\n\n" + m.Text}}
		if rb.Secret != "" {
			ts := strconv.FormatInt(now.UnixMilli(), 10)
			u, err := url.Parse(rb.URL)
			if err != nil {
				return "", nil, fmt.Errorf("dingtalk robot URL: %w", err)
			}
			q := u.Query()
			q.Set("timestamp", ts)
			q.Set("sign", DingTalkSign(ts, rb.Secret))
			u.RawQuery = q.Encode()
			target = u.String()
		}
	case Feishu:
		body := map[string]any{"msg_type": "text", "content": map[string]string{"text": m.Title + "\n" + m.Text}}
		if rb.Secret != "" {
			ts := strconv.FormatInt(now.Unix(), 10)
			body["timestamp"], body["sign"] = ts, FeishuSign(ts, rb.Secret)
		}
		v = body
	default:
		return "", nil, fmt.Errorf("unknown robot vendor %q", rb.Vendor)
	}
	b, err := json.Marshal(v)
	return target, b, err
}

// DingTalkSign is DingTalk's 加签: base64 of HMAC-SHA256 keyed with the
// secret over timestamp+"\n"+secret (the caller URL-encodes it).
func DingTalkSign(timestampMillis, secret string) string {
	h := hmac.New(sha256.New, []byte(secret))
	h.Write([]byte(timestampMillis + "\n" + secret))
	return base64.StdEncoding.EncodeToString(h.Sum(nil))
}

// FeishuSign is Feishu's 签名校验: base64 of HMAC-SHA256 keyed with
// timestamp+"\n"+secret over an empty message.
func FeishuSign(timestampSeconds, secret string) string {
	h := hmac.New(sha256.New, []byte(timestampSeconds+"\n"+secret))
	return base64.StdEncoding.EncodeToString(h.Sum(nil))
}
