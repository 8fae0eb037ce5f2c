// Original file: switchboard/v1/users.proto

import type { Long } from '@grpc/proto-loader';

export interface DeleteUserRequest {
  'id'?: (number | string | Long);
}

export interface DeleteUserRequest__Output {
  'id': (string);
}
