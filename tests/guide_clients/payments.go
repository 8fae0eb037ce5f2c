// The Go guide's own client code, verbatim from the seed guide (../../../shared/seed/,
// section "Real-World Example: Payment Gateway Integration"), so the test runs the guide's clients unchanged against
// Switchboard. Only the package clause differs, so the sections build as one program with
// main.go, the driver.

package main

import (
    "bytes"
    "context"
    "encoding/json"
    "fmt"
    "io"
    "net/http"
    "time"
)

type PaymentGatewayClient struct {
    client    *http.Client
    baseURL   string
    apiKey    string
    apiSecret string
}

type PaymentRequest struct {
    Amount      float64 `json:"amount"`
    Currency    string  `json:"currency"`
    CustomerID  string  `json:"customer_id"`
    Description string  `json:"description"`
}

type PaymentResponse struct {
    TransactionID string    `json:"transaction_id"`
    Status        string    `json:"status"`
    Amount        float64   `json:"amount"`
    CreatedAt     time.Time `json:"created_at"`
}

type RefundRequest struct {
    TransactionID string  `json:"transaction_id"`
    Amount        float64 `json:"amount"`
    Reason        string  `json:"reason"`
}

type RefundResponse struct {
    RefundID      string    `json:"refund_id"`
    TransactionID string    `json:"transaction_id"`
    Status        string    `json:"status"`
    Amount        float64   `json:"amount"`
    RefundedAt    time.Time `json:"refunded_at"`
}

func NewPaymentGatewayClient(baseURL, apiKey, apiSecret string) *PaymentGatewayClient {
    return &PaymentGatewayClient{
        client: &http.Client{
            Timeout: 30 * time.Second,
            Transport: &http.Transport{
                MaxIdleConns:        100,
                MaxIdleConnsPerHost: 10,
                IdleConnTimeout:     90 * time.Second,
            },
        },
        baseURL:   baseURL,
        apiKey:    apiKey,
        apiSecret: apiSecret,
    }
}

// ProcessPayment processes a payment through the gateway
func (c *PaymentGatewayClient) ProcessPayment(ctx context.Context, req PaymentRequest) (*PaymentResponse, error) {
    url := fmt.Sprintf("%s/api/v1/payments", c.baseURL)
    
    // Marshal request to JSON
    jsonData, err := json.Marshal(req)
    if err != nil {
        return nil, fmt.Errorf("failed to marshal request: %w", err)
    }
    
    // Create HTTP request with context
    httpReq, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewBuffer(jsonData))
    if err != nil {
        return nil, fmt.Errorf("failed to create request: %w", err)
    }
    
    // Set headers
    httpReq.Header.Set("Content-Type", "application/json")
    httpReq.Header.Set("X-API-Key", c.apiKey)
    httpReq.Header.Set("X-API-Secret", c.apiSecret)
    httpReq.Header.Set("Idempotency-Key", generateIdempotencyKey())
    
    // Make request
    resp, err := c.client.Do(httpReq)
    if err != nil {
        return nil, fmt.Errorf("failed to make request: %w", err)
    }
    defer resp.Body.Close()
    
    // Read response body
    body, err := io.ReadAll(resp.Body)
    if err != nil {
        return nil, fmt.Errorf("failed to read response: %w", err)
    }
    
    // Check status code
    if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusCreated {
        return nil, fmt.Errorf("payment failed with status %d: %s", resp.StatusCode, string(body))
    }
    
    // Parse response
    var paymentResp PaymentResponse
    if err := json.Unmarshal(body, &paymentResp); err != nil {
        return nil, fmt.Errorf("failed to parse response: %w", err)
    }
    
    return &paymentResp, nil
}

// RefundPayment processes a refund
func (c *PaymentGatewayClient) RefundPayment(ctx context.Context, req RefundRequest) (*RefundResponse, error) {
    url := fmt.Sprintf("%s/api/v1/refunds", c.baseURL)
    
    jsonData, err := json.Marshal(req)
    if err != nil {
        return nil, fmt.Errorf("failed to marshal request: %w", err)
    }
    
    httpReq, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewBuffer(jsonData))
    if err != nil {
        return nil, fmt.Errorf("failed to create request: %w", err)
    }
    
    httpReq.Header.Set("Content-Type", "application/json")
    httpReq.Header.Set("X-API-Key", c.apiKey)
    httpReq.Header.Set("X-API-Secret", c.apiSecret)
    
    resp, err := c.client.Do(httpReq)
    if err != nil {
        return nil, fmt.Errorf("failed to make request: %w", err)
    }
    defer resp.Body.Close()
    
    body, err := io.ReadAll(resp.Body)
    if err != nil {
        return nil, fmt.Errorf("failed to read response: %w", err)
    }
    
    if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusCreated {
        return nil, fmt.Errorf("refund failed with status %d: %s", resp.StatusCode, string(body))
    }
    
    var refundResp RefundResponse
    if err := json.Unmarshal(body, &refundResp); err != nil {
        return nil, fmt.Errorf("failed to parse response: %w", err)
    }
    
    return &refundResp, nil
}

// GetPaymentStatus retrieves the status of a payment
func (c *PaymentGatewayClient) GetPaymentStatus(ctx context.Context, transactionID string) (*PaymentResponse, error) {
    url := fmt.Sprintf("%s/api/v1/payments/%s", c.baseURL, transactionID)
    
    httpReq, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
    if err != nil {
        return nil, fmt.Errorf("failed to create request: %w", err)
    }
    
    httpReq.Header.Set("X-API-Key", c.apiKey)
    httpReq.Header.Set("X-API-Secret", c.apiSecret)
    
    resp, err := c.client.Do(httpReq)
    if err != nil {
        return nil, fmt.Errorf("failed to make request: %w", err)
    }
    defer resp.Body.Close()
    
    if resp.StatusCode == http.StatusNotFound {
        return nil, fmt.Errorf("payment not found: %s", transactionID)
    }
    
    if resp.StatusCode != http.StatusOK {
        body, _ := io.ReadAll(resp.Body)
        return nil, fmt.Errorf("request failed with status %d: %s", resp.StatusCode, string(body))
    }
    
    var paymentResp PaymentResponse
    if err := json.NewDecoder(resp.Body).Decode(&paymentResp); err != nil {
        return nil, fmt.Errorf("failed to parse response: %w", err)
    }
    
    return &paymentResp, nil
}

func generateIdempotencyKey() string {
    return fmt.Sprintf("idem_%d", time.Now().UnixNano())
}
