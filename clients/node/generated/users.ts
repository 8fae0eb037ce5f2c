import type * as grpc from '@grpc/grpc-js';
import type { MessageTypeDefinition } from '@grpc/proto-loader';

import type { Empty as _google_protobuf_Empty, Empty__Output as _google_protobuf_Empty__Output } from './google/protobuf/Empty';
import type { FieldMask as _google_protobuf_FieldMask, FieldMask__Output as _google_protobuf_FieldMask__Output } from './google/protobuf/FieldMask';
import type { Timestamp as _google_protobuf_Timestamp, Timestamp__Output as _google_protobuf_Timestamp__Output } from './google/protobuf/Timestamp';
import type { CreateUserRequest as _switchboard_v1_CreateUserRequest, CreateUserRequest__Output as _switchboard_v1_CreateUserRequest__Output } from './switchboard/v1/CreateUserRequest';
import type { DeleteUserRequest as _switchboard_v1_DeleteUserRequest, DeleteUserRequest__Output as _switchboard_v1_DeleteUserRequest__Output } from './switchboard/v1/DeleteUserRequest';
import type { GetUserRequest as _switchboard_v1_GetUserRequest, GetUserRequest__Output as _switchboard_v1_GetUserRequest__Output } from './switchboard/v1/GetUserRequest';
import type { ListUsersRequest as _switchboard_v1_ListUsersRequest, ListUsersRequest__Output as _switchboard_v1_ListUsersRequest__Output } from './switchboard/v1/ListUsersRequest';
import type { ListUsersResponse as _switchboard_v1_ListUsersResponse, ListUsersResponse__Output as _switchboard_v1_ListUsersResponse__Output } from './switchboard/v1/ListUsersResponse';
import type { UpdateUserRequest as _switchboard_v1_UpdateUserRequest, UpdateUserRequest__Output as _switchboard_v1_UpdateUserRequest__Output } from './switchboard/v1/UpdateUserRequest';
import type { User as _switchboard_v1_User, User__Output as _switchboard_v1_User__Output } from './switchboard/v1/User';
import type { UserServiceClient as _switchboard_v1_UserServiceClient, UserServiceDefinition as _switchboard_v1_UserServiceDefinition } from './switchboard/v1/UserService';

type SubtypeConstructor<Constructor extends new (...args: any) => any, Subtype> = {
  new(...args: ConstructorParameters<Constructor>): Subtype;
};

export interface ProtoGrpcType {
  google: {
    protobuf: {
      Empty: MessageTypeDefinition<_google_protobuf_Empty, _google_protobuf_Empty__Output>
      FieldMask: MessageTypeDefinition<_google_protobuf_FieldMask, _google_protobuf_FieldMask__Output>
      Timestamp: MessageTypeDefinition<_google_protobuf_Timestamp, _google_protobuf_Timestamp__Output>
    }
  }
  switchboard: {
    v1: {
      CreateUserRequest: MessageTypeDefinition<_switchboard_v1_CreateUserRequest, _switchboard_v1_CreateUserRequest__Output>
      DeleteUserRequest: MessageTypeDefinition<_switchboard_v1_DeleteUserRequest, _switchboard_v1_DeleteUserRequest__Output>
      GetUserRequest: MessageTypeDefinition<_switchboard_v1_GetUserRequest, _switchboard_v1_GetUserRequest__Output>
      ListUsersRequest: MessageTypeDefinition<_switchboard_v1_ListUsersRequest, _switchboard_v1_ListUsersRequest__Output>
      ListUsersResponse: MessageTypeDefinition<_switchboard_v1_ListUsersResponse, _switchboard_v1_ListUsersResponse__Output>
      UpdateUserRequest: MessageTypeDefinition<_switchboard_v1_UpdateUserRequest, _switchboard_v1_UpdateUserRequest__Output>
      User: MessageTypeDefinition<_switchboard_v1_User, _switchboard_v1_User__Output>
      UserService: SubtypeConstructor<typeof grpc.Client, _switchboard_v1_UserServiceClient> & { service: _switchboard_v1_UserServiceDefinition }
    }
  }
}

