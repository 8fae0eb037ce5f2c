import type * as grpc from '@grpc/grpc-js';
import type { EnumTypeDefinition, MessageTypeDefinition } from '@grpc/proto-loader';

import type { CustomHttpPattern as _google_api_CustomHttpPattern, CustomHttpPattern__Output as _google_api_CustomHttpPattern__Output } from './google/api/CustomHttpPattern';
import type { Http as _google_api_Http, Http__Output as _google_api_Http__Output } from './google/api/Http';
import type { HttpRule as _google_api_HttpRule, HttpRule__Output as _google_api_HttpRule__Output } from './google/api/HttpRule';
import type { DescriptorProto as _google_protobuf_DescriptorProto, DescriptorProto__Output as _google_protobuf_DescriptorProto__Output } from './google/protobuf/DescriptorProto';
import type { EnumDescriptorProto as _google_protobuf_EnumDescriptorProto, EnumDescriptorProto__Output as _google_protobuf_EnumDescriptorProto__Output } from './google/protobuf/EnumDescriptorProto';
import type { EnumOptions as _google_protobuf_EnumOptions, EnumOptions__Output as _google_protobuf_EnumOptions__Output } from './google/protobuf/EnumOptions';
import type { EnumValueDescriptorProto as _google_protobuf_EnumValueDescriptorProto, EnumValueDescriptorProto__Output as _google_protobuf_EnumValueDescriptorProto__Output } from './google/protobuf/EnumValueDescriptorProto';
import type { EnumValueOptions as _google_protobuf_EnumValueOptions, EnumValueOptions__Output as _google_protobuf_EnumValueOptions__Output } from './google/protobuf/EnumValueOptions';
import type { ExtensionRangeOptions as _google_protobuf_ExtensionRangeOptions, ExtensionRangeOptions__Output as _google_protobuf_ExtensionRangeOptions__Output } from './google/protobuf/ExtensionRangeOptions';
import type { FeatureSet as _google_protobuf_FeatureSet, FeatureSet__Output as _google_protobuf_FeatureSet__Output } from './google/protobuf/FeatureSet';
import type { FeatureSetDefaults as _google_protobuf_FeatureSetDefaults, FeatureSetDefaults__Output as _google_protobuf_FeatureSetDefaults__Output } from './google/protobuf/FeatureSetDefaults';
import type { FieldDescriptorProto as _google_protobuf_FieldDescriptorProto, FieldDescriptorProto__Output as _google_protobuf_FieldDescriptorProto__Output } from './google/protobuf/FieldDescriptorProto';
import type { FieldOptions as _google_protobuf_FieldOptions, FieldOptions__Output as _google_protobuf_FieldOptions__Output } from './google/protobuf/FieldOptions';
import type { FileDescriptorProto as _google_protobuf_FileDescriptorProto, FileDescriptorProto__Output as _google_protobuf_FileDescriptorProto__Output } from './google/protobuf/FileDescriptorProto';
import type { FileDescriptorSet as _google_protobuf_FileDescriptorSet, FileDescriptorSet__Output as _google_protobuf_FileDescriptorSet__Output } from './google/protobuf/FileDescriptorSet';
import type { FileOptions as _google_protobuf_FileOptions, FileOptions__Output as _google_protobuf_FileOptions__Output } from './google/protobuf/FileOptions';
import type { GeneratedCodeInfo as _google_protobuf_GeneratedCodeInfo, GeneratedCodeInfo__Output as _google_protobuf_GeneratedCodeInfo__Output } from './google/protobuf/GeneratedCodeInfo';
import type { MessageOptions as _google_protobuf_MessageOptions, MessageOptions__Output as _google_protobuf_MessageOptions__Output } from './google/protobuf/MessageOptions';
import type { MethodDescriptorProto as _google_protobuf_MethodDescriptorProto, MethodDescriptorProto__Output as _google_protobuf_MethodDescriptorProto__Output } from './google/protobuf/MethodDescriptorProto';
import type { MethodOptions as _google_protobuf_MethodOptions, MethodOptions__Output as _google_protobuf_MethodOptions__Output } from './google/protobuf/MethodOptions';
import type { OneofDescriptorProto as _google_protobuf_OneofDescriptorProto, OneofDescriptorProto__Output as _google_protobuf_OneofDescriptorProto__Output } from './google/protobuf/OneofDescriptorProto';
import type { OneofOptions as _google_protobuf_OneofOptions, OneofOptions__Output as _google_protobuf_OneofOptions__Output } from './google/protobuf/OneofOptions';
import type { ServiceDescriptorProto as _google_protobuf_ServiceDescriptorProto, ServiceDescriptorProto__Output as _google_protobuf_ServiceDescriptorProto__Output } from './google/protobuf/ServiceDescriptorProto';
import type { ServiceOptions as _google_protobuf_ServiceOptions, ServiceOptions__Output as _google_protobuf_ServiceOptions__Output } from './google/protobuf/ServiceOptions';
import type { SourceCodeInfo as _google_protobuf_SourceCodeInfo, SourceCodeInfo__Output as _google_protobuf_SourceCodeInfo__Output } from './google/protobuf/SourceCodeInfo';
import type { Timestamp as _google_protobuf_Timestamp, Timestamp__Output as _google_protobuf_Timestamp__Output } from './google/protobuf/Timestamp';
import type { UninterpretedOption as _google_protobuf_UninterpretedOption, UninterpretedOption__Output as _google_protobuf_UninterpretedOption__Output } from './google/protobuf/UninterpretedOption';
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
import type { WatchRoomRequest as _switchboard_v1_WatchRoomRequest, WatchRoomRequest__Output as _switchboard_v1_WatchRoomRequest__Output } from './switchboard/v1/WatchRoomRequest';
import type { Welcome as _switchboard_v1_Welcome, Welcome__Output as _switchboard_v1_Welcome__Output } from './switchboard/v1/Welcome';

type SubtypeConstructor<Constructor extends new (...args: any) => any, Subtype> = {
  new(...args: ConstructorParameters<Constructor>): Subtype;
};

export interface ProtoGrpcType {
  google: {
    api: {
      CustomHttpPattern: MessageTypeDefinition<_google_api_CustomHttpPattern, _google_api_CustomHttpPattern__Output>
      Http: MessageTypeDefinition<_google_api_Http, _google_api_Http__Output>
      HttpRule: MessageTypeDefinition<_google_api_HttpRule, _google_api_HttpRule__Output>
    }
    protobuf: {
      DescriptorProto: MessageTypeDefinition<_google_protobuf_DescriptorProto, _google_protobuf_DescriptorProto__Output>
      Edition: EnumTypeDefinition
      EnumDescriptorProto: MessageTypeDefinition<_google_protobuf_EnumDescriptorProto, _google_protobuf_EnumDescriptorProto__Output>
      EnumOptions: MessageTypeDefinition<_google_protobuf_EnumOptions, _google_protobuf_EnumOptions__Output>
      EnumValueDescriptorProto: MessageTypeDefinition<_google_protobuf_EnumValueDescriptorProto, _google_protobuf_EnumValueDescriptorProto__Output>
      EnumValueOptions: MessageTypeDefinition<_google_protobuf_EnumValueOptions, _google_protobuf_EnumValueOptions__Output>
      ExtensionRangeOptions: MessageTypeDefinition<_google_protobuf_ExtensionRangeOptions, _google_protobuf_ExtensionRangeOptions__Output>
      FeatureSet: MessageTypeDefinition<_google_protobuf_FeatureSet, _google_protobuf_FeatureSet__Output>
      FeatureSetDefaults: MessageTypeDefinition<_google_protobuf_FeatureSetDefaults, _google_protobuf_FeatureSetDefaults__Output>
      FieldDescriptorProto: MessageTypeDefinition<_google_protobuf_FieldDescriptorProto, _google_protobuf_FieldDescriptorProto__Output>
      FieldOptions: MessageTypeDefinition<_google_protobuf_FieldOptions, _google_protobuf_FieldOptions__Output>
      FileDescriptorProto: MessageTypeDefinition<_google_protobuf_FileDescriptorProto, _google_protobuf_FileDescriptorProto__Output>
      FileDescriptorSet: MessageTypeDefinition<_google_protobuf_FileDescriptorSet, _google_protobuf_FileDescriptorSet__Output>
      FileOptions: MessageTypeDefinition<_google_protobuf_FileOptions, _google_protobuf_FileOptions__Output>
      GeneratedCodeInfo: MessageTypeDefinition<_google_protobuf_GeneratedCodeInfo, _google_protobuf_GeneratedCodeInfo__Output>
      MessageOptions: MessageTypeDefinition<_google_protobuf_MessageOptions, _google_protobuf_MessageOptions__Output>
      MethodDescriptorProto: MessageTypeDefinition<_google_protobuf_MethodDescriptorProto, _google_protobuf_MethodDescriptorProto__Output>
      MethodOptions: MessageTypeDefinition<_google_protobuf_MethodOptions, _google_protobuf_MethodOptions__Output>
      OneofDescriptorProto: MessageTypeDefinition<_google_protobuf_OneofDescriptorProto, _google_protobuf_OneofDescriptorProto__Output>
      OneofOptions: MessageTypeDefinition<_google_protobuf_OneofOptions, _google_protobuf_OneofOptions__Output>
      ServiceDescriptorProto: MessageTypeDefinition<_google_protobuf_ServiceDescriptorProto, _google_protobuf_ServiceDescriptorProto__Output>
      ServiceOptions: MessageTypeDefinition<_google_protobuf_ServiceOptions, _google_protobuf_ServiceOptions__Output>
      SourceCodeInfo: MessageTypeDefinition<_google_protobuf_SourceCodeInfo, _google_protobuf_SourceCodeInfo__Output>
      SymbolVisibility: EnumTypeDefinition
      Timestamp: MessageTypeDefinition<_google_protobuf_Timestamp, _google_protobuf_Timestamp__Output>
      UninterpretedOption: MessageTypeDefinition<_google_protobuf_UninterpretedOption, _google_protobuf_UninterpretedOption__Output>
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
      WatchRoomRequest: MessageTypeDefinition<_switchboard_v1_WatchRoomRequest, _switchboard_v1_WatchRoomRequest__Output>
      Welcome: MessageTypeDefinition<_switchboard_v1_Welcome, _switchboard_v1_Welcome__Output>
    }
  }
}

