// Original file: switchboard/v1/payments.proto

export const PaymentStatus = {
  PAYMENT_STATUS_UNSPECIFIED: 'PAYMENT_STATUS_UNSPECIFIED',
  SUCCEEDED: 'SUCCEEDED',
  FAILED: 'FAILED',
  PARTIALLY_REFUNDED: 'PARTIALLY_REFUNDED',
  REFUNDED: 'REFUNDED',
} as const;

export type PaymentStatus =
  | 'PAYMENT_STATUS_UNSPECIFIED'
  | 0
  | 'SUCCEEDED'
  | 1
  | 'FAILED'
  | 2
  | 'PARTIALLY_REFUNDED'
  | 3
  | 'REFUNDED'
  | 4

export type PaymentStatus__Output = typeof PaymentStatus[keyof typeof PaymentStatus]
