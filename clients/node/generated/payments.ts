import type * as grpc from '@grpc/grpc-js';
import type { EnumTypeDefinition, MessageTypeDefinition } from '@grpc/proto-loader';

import type { Timestamp as _google_protobuf_Timestamp, Timestamp__Output as _google_protobuf_Timestamp__Output } from './google/protobuf/Timestamp';
import type { CreatePaymentRequest as _switchboard_v1_CreatePaymentRequest, CreatePaymentRequest__Output as _switchboard_v1_CreatePaymentRequest__Output } from './switchboard/v1/CreatePaymentRequest';
import type { GetPaymentRequest as _switchboard_v1_GetPaymentRequest, GetPaymentRequest__Output as _switchboard_v1_GetPaymentRequest__Output } from './switchboard/v1/GetPaymentRequest';
import type { ListPaymentsRequest as _switchboard_v1_ListPaymentsRequest, ListPaymentsRequest__Output as _switchboard_v1_ListPaymentsRequest__Output } from './switchboard/v1/ListPaymentsRequest';
import type { ListPaymentsResponse as _switchboard_v1_ListPaymentsResponse, ListPaymentsResponse__Output as _switchboard_v1_ListPaymentsResponse__Output } from './switchboard/v1/ListPaymentsResponse';
import type { Payment as _switchboard_v1_Payment, Payment__Output as _switchboard_v1_Payment__Output } from './switchboard/v1/Payment';
import type { PaymentServiceClient as _switchboard_v1_PaymentServiceClient, PaymentServiceDefinition as _switchboard_v1_PaymentServiceDefinition } from './switchboard/v1/PaymentService';
import type { Refund as _switchboard_v1_Refund, Refund__Output as _switchboard_v1_Refund__Output } from './switchboard/v1/Refund';
import type { RefundPaymentRequest as _switchboard_v1_RefundPaymentRequest, RefundPaymentRequest__Output as _switchboard_v1_RefundPaymentRequest__Output } from './switchboard/v1/RefundPaymentRequest';

type SubtypeConstructor<Constructor extends new (...args: any) => any, Subtype> = {
  new(...args: ConstructorParameters<Constructor>): Subtype;
};

export interface ProtoGrpcType {
  google: {
    protobuf: {
      Timestamp: MessageTypeDefinition<_google_protobuf_Timestamp, _google_protobuf_Timestamp__Output>
    }
  }
  switchboard: {
    v1: {
      CreatePaymentRequest: MessageTypeDefinition<_switchboard_v1_CreatePaymentRequest, _switchboard_v1_CreatePaymentRequest__Output>
      GetPaymentRequest: MessageTypeDefinition<_switchboard_v1_GetPaymentRequest, _switchboard_v1_GetPaymentRequest__Output>
      ListPaymentsRequest: MessageTypeDefinition<_switchboard_v1_ListPaymentsRequest, _switchboard_v1_ListPaymentsRequest__Output>
      ListPaymentsResponse: MessageTypeDefinition<_switchboard_v1_ListPaymentsResponse, _switchboard_v1_ListPaymentsResponse__Output>
      Payment: MessageTypeDefinition<_switchboard_v1_Payment, _switchboard_v1_Payment__Output>
      PaymentService: SubtypeConstructor<typeof grpc.Client, _switchboard_v1_PaymentServiceClient> & { service: _switchboard_v1_PaymentServiceDefinition }
      PaymentStatus: EnumTypeDefinition
      Refund: MessageTypeDefinition<_switchboard_v1_Refund, _switchboard_v1_Refund__Output>
      RefundPaymentRequest: MessageTypeDefinition<_switchboard_v1_RefundPaymentRequest, _switchboard_v1_RefundPaymentRequest__Output>
    }
  }
}

