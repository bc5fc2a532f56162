package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"
)

// Payload is the JSON body POSTed to the webhook, one per state change.
type Payload struct {
	Instance       string    `json:"instance"`
	Node           string    `json:"node"`
	State          State     `json:"state"`
	PreviousState  State     `json:"previous_state"`
	Priority       int       `json:"priority"`
	Epoch          uint64    `json:"epoch"`
	Holder         string    `json:"holder"`
	PreviousHolder string    `json:"previous_holder"`
	Reason         string    `json:"reason"`
	Time           time.Time `json:"time"`
}

func (n *Notifier) payload(ev Event) Payload {
	return Payload{Instance: n.opt.Instance, Node: ev.Node, State: ev.State, PreviousState: ev.Previous,
		Priority: n.opt.Priority, Epoch: ev.Epoch, Holder: ev.Holder, PreviousHolder: ev.PreviousHolder,
		Reason: ev.Reason, Time: ev.Time}
}

func (n *Notifier) runHooks() {
	defer close(n.hookDone)
	if n.opt.Webhook == "" {
		return
	}
	for {
		ev, ok := n.next(&n.hooks, n.hookWake)
		if !ok {
			return
		}
		n.mu.Lock()
		dropped := n.hookDropped
		n.hookDropped = 0
		n.mu.Unlock()
		if dropped > 0 {
			n.log.Warn("webhook queue was full: oldest events dropped", "dropped", dropped, "webhook", n.opt.WebhookName)
		}
		n.post(ev)
	}
}

// post delivers one event, retrying with doubling delays (1s, 2s, … at
// most 30s apart) up to webhookAttempts times. A 2xx answer is delivery;
// a 4xx other than 408 and 429 will not get better and is not retried.
func (n *Notifier) post(ev Event) {
	body, _ := json.Marshal(n.payload(ev))
	delay := n.opt.Backoff
	for attempt := 1; ; attempt++ {
		err, retry := n.postOnce(body)
		if err == nil {
			n.log.Debug("webhook delivered", "webhook", n.opt.WebhookName, "state", ev.State, "epoch", ev.Epoch, "attempt", attempt)
			return
		}
		if !retry || attempt >= webhookAttempts {
			n.log.Error("webhook not delivered: giving up on this event", "webhook", n.opt.WebhookName, "state", ev.State, "epoch", ev.Epoch, "attempts", attempt, "error", err)
			return
		}
		n.log.Warn("webhook failed, retrying", "webhook", n.opt.WebhookName, "state", ev.State, "attempt", attempt, "in", delay, "error", err)
		select {
		case <-time.After(delay):
		case <-n.ctx.Done():
			n.log.Error("webhook not delivered: shutdown", "webhook", n.opt.WebhookName, "state", ev.State, "epoch", ev.Epoch)
			return
		}
		if delay *= 2; delay > webhookMaxBackof {
			delay = webhookMaxBackof
		}
	}
}

func (n *Notifier) postOnce(body []byte) (err error, retry bool) {
	ctx, cancel := context.WithTimeout(n.ctx, n.opt.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, n.opt.Webhook, bytes.NewReader(body))
	if err != nil {
		return err, false
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "raftvip-notify")
	resp, err := n.opt.HTTPClient.Do(req)
	if err != nil {
		// The error may quote the URL, which may hold a token.
		return fmt.Errorf("request failed: %s", redactErr(err)), true
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		return nil, false
	case resp.StatusCode == http.StatusRequestTimeout || resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500:
		return fmt.Errorf("HTTP %s", resp.Status), true
	}
	return fmt.Errorf("HTTP %s", resp.Status), false
}

// redactErr drops the URL from a client error (*url.Error quotes it).
func redactErr(err error) string {
	type unwrapper interface{ Unwrap() error }
	if u, ok := err.(unwrapper); ok && u.Unwrap() != nil {
		return u.Unwrap().Error()
	}
	return err.Error()
}
