import type * as grpc from '@grpc/grpc-js';
import type { EnumTypeDefinition, MessageTypeDefinition } from '@grpc/proto-loader';

import type { Timestamp as _google_protobuf_Timestamp, Timestamp__Output as _google_protobuf_Timestamp__Output } from './google/protobuf/Timestamp';
import type { ChatError as _switchboard_v1_ChatError, ChatError__Output as _switchboard_v1_ChatError__Output } from './switchboard/v1/ChatError';
import type { ChatEvent as _switchboard_v1_ChatEvent, ChatEvent__Output as _switchboard_v1_ChatEvent__Output } from './switchboard/v1/ChatEvent';
import type { ChatMessage as _switchboard_v1_ChatMessage, ChatMessage__Output as _switchboard_v1_ChatMessage__Output } from './switchboard/v1/ChatMessage';
import type { ChatRequest as _switchboard_v1_ChatRequest, ChatRequest__Output as _switchboard_v1_ChatRequest__Output } from './switchboard/v1/ChatRequest';
import type { ChatServiceClient as _switchboard_v1_ChatServiceClient, ChatServiceDefinition as _switchboard_v1_ChatServiceDefinition } from './switchboard/v1/ChatService';
import type { Goodbye as _switchboard_v1_Goodbye, Goodbye__Output as _switchboard_v1_Goodbye__Output } from './switchboard/v1/Goodbye';
import type { Join as _switchboard_v1_Join, Join__Output as _switchboard_v1_Join__Output } from './switchboard/v1/Join';
import type { ListMembersRequest as _switchboard_v1_ListMembersRequest, ListMembersRequest__Output as _switchboard_v1_ListMembersRequest__Output } from './switchboard/v1/ListMembersRequest';
import type { ListMembersResponse as _switchboard_v1_ListMembersResponse, ListMembersResponse__Output as _switchboard_v1_ListMembersResponse__Output } from './switchboard/v1/ListMembersResponse';
import type { MemberJoined as _switchboard_v1_MemberJoined, MemberJoined__Output as _switchboard_v1_MemberJoined__Output } from './switchboard/v1/MemberJoined';
import type { MemberLeft as _switchboard_v1_MemberLeft, MemberLeft__Output as _switchboard_v1_MemberLeft__Output } from './switchboard/v1/MemberLeft';
import type { Missed as _switchboard_v1_Missed, Missed__Output as _switchboard_v1_Missed__Output } from './switchboard/v1/Missed';
import type { Quit as _switchboard_v1_Quit, Quit__Output as _switchboard_v1_Quit__Output } from './switchboard/v1/Quit';
import type { Say as _switchboard_v1_Say, Say__Output as _switchboard_v1_Say__Output } from './switchboard/v1/Say';
import type { Welcome as _switchboard_v1_Welcome, Welcome__Output as _switchboard_v1_Welcome__Output } from './switchboard/v1/Welcome';

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
      ChatError: MessageTypeDefinition<_switchboard_v1_ChatError, _switchboard_v1_ChatError__Output>
      ChatEvent: MessageTypeDefinition<_switchboard_v1_ChatEvent, _switchboard_v1_ChatEvent__Output>
      ChatMessage: MessageTypeDefinition<_switchboard_v1_ChatMessage, _switchboard_v1_ChatMessage__Output>
      ChatRequest: MessageTypeDefinition<_switchboard_v1_ChatRequest, _switchboard_v1_ChatRequest__Output>
      ChatService: SubtypeConstructor<typeof grpc.Client, _switchboard_v1_ChatServiceClient> & { service: _switchboard_v1_ChatServiceDefinition }
      Goodbye: MessageTypeDefinition<_switchboard_v1_Goodbye, _switchboard_v1_Goodbye__Output>
      Join: MessageTypeDefinition<_switchboard_v1_Join, _switchboard_v1_Join__Output>
      LeaveReason: EnumTypeDefinition
      ListMembersRequest: MessageTypeDefinition<_switchboard_v1_ListMembersRequest, _switchboard_v1_ListMembersRequest__Output>
      ListMembersResponse: MessageTypeDefinition<_switchboard_v1_ListMembersResponse, _switchboard_v1_ListMembersResponse__Output>
      MemberJoined: MessageTypeDefinition<_switchboard_v1_MemberJoined, _switchboard_v1_MemberJoined__Output>
      MemberLeft: MessageTypeDefinition<_switchboard_v1_MemberLeft, _switchboard_v1_MemberLeft__Output>
      Missed: MessageTypeDefinition<_switchboard_v1_Missed, _switchboard_v1_Missed__Output>
      Quit: MessageTypeDefinition<_switchboard_v1_Quit, _switchboard_v1_Quit__Output>
      Say: MessageTypeDefinition<_switchboard_v1_Say, _switchboard_v1_Say__Output>
      Welcome: MessageTypeDefinition<_switchboard_v1_Welcome, _switchboard_v1_Welcome__Output>
    }
  }
}

