// Original file: switchboard/v1/payments.proto

import type * as grpc from '@grpc/grpc-js'
import type { MethodDefinition } from '@grpc/proto-loader'
import type { CreatePaymentRequest as _switchboard_v1_CreatePaymentRequest, CreatePaymentRequest__Output as _switchboard_v1_CreatePaymentRequest__Output } from '../../switchboard/v1/CreatePaymentRequest';
import type { GetPaymentRequest as _switchboard_v1_GetPaymentRequest, GetPaymentRequest__Output as _switchboard_v1_GetPaymentRequest__Output } from '../../switchboard/v1/GetPaymentRequest';
import type { ListPaymentsRequest as _switchboard_v1_ListPaymentsRequest, ListPaymentsRequest__Output as _switchboard_v1_ListPaymentsRequest__Output } from '../../switchboard/v1/ListPaymentsRequest';
import type { ListPaymentsResponse as _switchboard_v1_ListPaymentsResponse, ListPaymentsResponse__Output as _switchboard_v1_ListPaymentsResponse__Output } from '../../switchboard/v1/ListPaymentsResponse';
import type { Payment as _switchboard_v1_Payment, Payment__Output as _switchboard_v1_Payment__Output } from '../../switchboard/v1/Payment';
import type { Refund as _switchboard_v1_Refund, Refund__Output as _switchboard_v1_Refund__Output } from '../../switchboard/v1/Refund';
import type { RefundPaymentRequest as _switchboard_v1_RefundPaymentRequest, RefundPaymentRequest__Output as _switchboard_v1_RefundPaymentRequest__Output } from '../../switchboard/v1/RefundPaymentRequest';

export interface PaymentServiceClient extends grpc.Client {
  CreatePayment(argument: _switchboard_v1_CreatePaymentRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_switchboard_v1_Payment__Output>): grpc.ClientUnaryCall;
  CreatePayment(argument: _switchboard_v1_CreatePaymentRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_switchboard_v1_Payment__Output>): grpc.ClientUnaryCall;
  CreatePayment(argument: _switchboard_v1_CreatePaymentRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_switchboard_v1_Payment__Output>): grpc.ClientUnaryCall;
  CreatePayment(argument: _switchboard_v1_CreatePaymentRequest, callback: grpc.requestCallback<_switchboard_v1_Payment__Output>): grpc.ClientUnaryCall;
  createPayment(argument: _switchboard_v1_CreatePaymentRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_switchboard_v1_Payment__Output>): grpc.ClientUnaryCall;
  createPayment(argument: _switchboard_v1_CreatePaymentRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_switchboard_v1_Payment__Output>): grpc.ClientUnaryCall;
  createPayment(argument: _switchboard_v1_CreatePaymentRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_switchboard_v1_Payment__Output>): grpc.ClientUnaryCall;
  createPayment(argument: _switchboard_v1_CreatePaymentRequest, callback: grpc.requestCallback<_switchboard_v1_Payment__Output>): grpc.ClientUnaryCall;
  
  GetPayment(argument: _switchboard_v1_GetPaymentRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_switchboard_v1_Payment__Output>): grpc.ClientUnaryCall;
  GetPayment(argument: _switchboard_v1_GetPaymentRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_switchboard_v1_Payment__Output>): grpc.ClientUnaryCall;
  GetPayment(argument: _switchboard_v1_GetPaymentRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_switchboard_v1_Payment__Output>): grpc.ClientUnaryCall;
  GetPayment(argument: _switchboard_v1_GetPaymentRequest, callback: grpc.requestCallback<_switchboard_v1_Payment__Output>): grpc.ClientUnaryCall;
  getPayment(argument: _switchboard_v1_GetPaymentRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_switchboard_v1_Payment__Output>): grpc.ClientUnaryCall;
  getPayment(argument: _switchboard_v1_GetPaymentRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_switchboard_v1_Payment__Output>): grpc.ClientUnaryCall;
  getPayment(argument: _switchboard_v1_GetPaymentRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_switchboard_v1_Payment__Output>): grpc.ClientUnaryCall;
  getPayment(argument: _switchboard_v1_GetPaymentRequest, callback: grpc.requestCallback<_switchboard_v1_Payment__Output>): grpc.ClientUnaryCall;
  
  ListPayments(argument: _switchboard_v1_ListPaymentsRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_switchboard_v1_ListPaymentsResponse__Output>): grpc.ClientUnaryCall;
  ListPayments(argument: _switchboard_v1_ListPaymentsRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_switchboard_v1_ListPaymentsResponse__Output>): grpc.ClientUnaryCall;
  ListPayments(argument: _switchboard_v1_ListPaymentsRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_switchboard_v1_ListPaymentsResponse__Output>): grpc.ClientUnaryCall;
  ListPayments(argument: _switchboard_v1_ListPaymentsRequest, callback: grpc.requestCallback<_switchboard_v1_ListPaymentsResponse__Output>): grpc.ClientUnaryCall;
  listPayments(argument: _switchboard_v1_ListPaymentsRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_switchboard_v1_ListPaymentsResponse__Output>): grpc.ClientUnaryCall;
  listPayments(argument: _switchboard_v1_ListPaymentsRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_switchboard_v1_ListPaymentsResponse__Output>): grpc.ClientUnaryCall;
  listPayments(argument: _switchboard_v1_ListPaymentsRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_switchboard_v1_ListPaymentsResponse__Output>): grpc.ClientUnaryCall;
  listPayments(argument: _switchboard_v1_ListPaymentsRequest, callback: grpc.requestCallback<_switchboard_v1_ListPaymentsResponse__Output>): grpc.ClientUnaryCall;
  
  RefundPayment(argument: _switchboard_v1_RefundPaymentRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_switchboard_v1_Refund__Output>): grpc.ClientUnaryCall;
  RefundPayment(argument: _switchboard_v1_RefundPaymentRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_switchboard_v1_Refund__Output>): grpc.ClientUnaryCall;
  RefundPayment(argument: _switchboard_v1_RefundPaymentRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_switchboard_v1_Refund__Output>): grpc.ClientUnaryCall;
  RefundPayment(argument: _switchboard_v1_RefundPaymentRequest, callback: grpc.requestCallback<_switchboard_v1_Refund__Output>): grpc.ClientUnaryCall;
  refundPayment(argument: _switchboard_v1_RefundPaymentRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_switchboard_v1_Refund__Output>): grpc.ClientUnaryCall;
  refundPayment(argument: _switchboard_v1_RefundPaymentRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_switchboard_v1_Refund__Output>): grpc.ClientUnaryCall;
  refundPayment(argument: _switchboard_v1_RefundPaymentRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_switchboard_v1_Refund__Output>): grpc.ClientUnaryCall;
  refundPayment(argument: _switchboard_v1_RefundPaymentRequest, callback: grpc.requestCallback<_switchboard_v1_Refund__Output>): grpc.ClientUnaryCall;
  
}

export interface PaymentServiceHandlers extends grpc.UntypedServiceImplementation {
  CreatePayment: grpc.handleUnaryCall<_switchboard_v1_CreatePaymentRequest__Output, _switchboard_v1_Payment>;
  
  GetPayment: grpc.handleUnaryCall<_switchboard_v1_GetPaymentRequest__Output, _switchboard_v1_Payment>;
  
  ListPayments: grpc.handleUnaryCall<_switchboard_v1_ListPaymentsRequest__Output, _switchboard_v1_ListPaymentsResponse>;
  
  RefundPayment: grpc.handleUnaryCall<_switchboard_v1_RefundPaymentRequest__Output, _switchboard_v1_Refund>;
  
}

export interface PaymentServiceDefinition extends grpc.ServiceDefinition {
  CreatePayment: MethodDefinition<_switchboard_v1_CreatePaymentRequest, _switchboard_v1_Payment, _switchboard_v1_CreatePaymentRequest__Output, _switchboard_v1_Payment__Output>
  GetPayment: MethodDefinition<_switchboard_v1_GetPaymentRequest, _switchboard_v1_Payment, _switchboard_v1_GetPaymentRequest__Output, _switchboard_v1_Payment__Output>
  ListPayments: MethodDefinition<_switchboard_v1_ListPaymentsRequest, _switchboard_v1_ListPaymentsResponse, _switchboard_v1_ListPaymentsRequest__Output, _switchboard_v1_ListPaymentsResponse__Output>
  RefundPayment: MethodDefinition<_switchboard_v1_RefundPaymentRequest, _switchboard_v1_Refund, _switchboard_v1_RefundPaymentRequest__Output, _switchboard_v1_Refund__Output>
}
