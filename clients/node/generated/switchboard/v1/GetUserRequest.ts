// Original file: switchboard/v1/users.proto

import type { Long } from '@grpc/proto-loader';

export interface GetUserRequest {
  'id'?: (number | string | Long);
}

export interface GetUserRequest__Output {
  'id': (string);
}
