// Original file: switchboard/v1/chat.proto


export interface ListMembersRequest {
}

export interface ListMembersRequest__Output {
}
