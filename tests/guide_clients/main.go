// The driver: runs the guide's users client and payment-gateway client (users.go and
// payments.go, verbatim from the guide) against a server, and prints one line per step,
// `step<TAB>ok<TAB>detail` or `step<TAB>error<TAB>message`, for tests/guide_http.rs to check.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"
)

func report(step string, err error, detail string) {
	if err != nil {
		fmt.Printf("%s\terror\t%v\n", step, err)
		return
	}
	fmt.Printf("%s\tok\t%s\n", step, detail)
}

func main() {
	base := flag.String("base", "http://127.0.0.1:8080", "server base URL")
	apiKey := flag.String("api-key", "sk_test_switchboard", "payment API key")
	email := flag.String("email", "gopher@example.com", "e-mail of the user to create")
	flag.Parse()

	users := NewHTTPClient(*base)
	created, err := users.CreateUser(User{Username: "gopher", Email: *email, Age: 13})
	if err != nil {
		report("create", err, "")
		os.Exit(1)
	}
	report("create", nil, fmt.Sprintf("id=%d username=%s email=%s age=%d", created.ID, created.Username, created.Email, created.Age))
	_, err = users.CreateUser(User{Username: "copycat", Email: *email, Age: 1})
	report("create-duplicate", err, "")

	got, err := users.GetUser(created.ID)
	if err == nil {
		report("get", nil, fmt.Sprintf("id=%d username=%s age=%d", got.ID, got.Username, got.Age))
	} else {
		report("get", err, "")
	}
	updated, err := users.UpdateUser(created.ID, User{Username: "gopher2", Email: *email, Age: 14})
	if err == nil {
		report("update", nil, fmt.Sprintf("username=%s age=%d", updated.Username, updated.Age))
	} else {
		report("update", err, "")
	}
	found, err := users.SearchUsers("gopher", 1, 10)
	if err == nil {
		report("search", nil, fmt.Sprintf("count=%d first=%s", len(found), firstName(found)))
	} else {
		report("search", err, "")
	}
	report("delete", users.DeleteUser(created.ID), "")
	_, err = users.GetUser(created.ID)
	report("get-deleted", err, "")

	payments := NewPaymentGatewayClient(*base, *apiKey, "the-guide-secret")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	payment, err := payments.ProcessPayment(ctx, PaymentRequest{Amount: 99.99, Currency: "USD", CustomerID: "cust_123", Description: "Order #12345"})
	if err != nil {
		report("pay", err, "")
		os.Exit(1)
	}
	report("pay", nil, fmt.Sprintf("status=%s amount=%.2f id_set=%t created_set=%t", payment.Status, payment.Amount, payment.TransactionID != "", !payment.CreatedAt.IsZero()))
	status, err := payments.GetPaymentStatus(ctx, payment.TransactionID)
	if err == nil {
		report("status", nil, fmt.Sprintf("status=%s amount=%.2f", status.Status, status.Amount))
	} else {
		report("status", err, "")
	}
	refund, err := payments.RefundPayment(ctx, RefundRequest{TransactionID: payment.TransactionID, Amount: 25.5, Reason: "damaged"})
	if err == nil {
		report("refund", nil, fmt.Sprintf("status=%s amount=%.2f transaction=%t refunded_set=%t", refund.Status, refund.Amount, refund.TransactionID == payment.TransactionID, !refund.RefundedAt.IsZero()))
	} else {
		report("refund", err, "")
	}
	_, err = payments.RefundPayment(ctx, RefundRequest{TransactionID: payment.TransactionID, Amount: 100, Reason: "too much"})
	report("over-refund", err, "")
	after, err := payments.GetPaymentStatus(ctx, payment.TransactionID)
	if err == nil {
		report("status-after", nil, fmt.Sprintf("status=%s", after.Status))
	} else {
		report("status-after", err, "")
	}
	_, err = payments.GetPaymentStatus(ctx, "pay_does_not_exist")
	report("status-unknown", err, "")
	wrongKey := NewPaymentGatewayClient(*base, "sk_wrong", "the-guide-secret")
	_, err = wrongKey.ProcessPayment(ctx, PaymentRequest{Amount: 1, Currency: "USD", CustomerID: "cust_123"})
	report("pay-wrong-key", err, "")
}

func firstName(users []User) string {
	if len(users) == 0 {
		return ""
	}
	return users[0].Username
}
