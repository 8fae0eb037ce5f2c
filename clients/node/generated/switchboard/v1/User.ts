// Original file: switchboard/v1/users.proto

import type { Timestamp as _google_protobuf_Timestamp, Timestamp__Output as _google_protobuf_Timestamp__Output } from '../../google/protobuf/Timestamp';
import type { Long } from '@grpc/proto-loader';

export interface User {
  'id'?: (number | string | Long);
  'username'?: (string);
  'email'?: (string);
  'age'?: (number);
  'create_time'?: (_google_protobuf_Timestamp | null);
  'update_time'?: (_google_protobuf_Timestamp | null);
}

export interface User__Output {
  'id': (string);
  'username': (string);
  'email': (string);
  'age': (number);
  'create_time': (_google_protobuf_Timestamp__Output | null);
  'update_time': (_google_protobuf_Timestamp__Output | null);
}
